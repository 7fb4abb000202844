"""The committed results and the docs that quote them (issue 18).

For every ``<assignment>/results.py`` that exists: each generated block of its ANSWERS.md and
README.md equals what ``blocks()`` renders from the committed JSON (so a number in the docs
cannot differ from ``results/``), every image the docs link exists and is a non-blank PNG of
a sensible size, ANSWERS.md links at least the figures the issue asks for, and all
``results/`` folders together stay small.
"""
import importlib

import pytest

from common.results import (MAX_FIGURE_BYTES, MAX_RESULTS_BYTES, REPO, existing_modules, figure_problems,
                            image_links, stale_blocks, tree_bytes)

MODULES = existing_modules()
MIN_ANSWERS_FIGURES = {"functaset": 6, "autoencoders": 6, "miniplaces": 7, "alexnet_rnn": 3}


def _module(name):
    return importlib.import_module(f"{name}.results")


@pytest.mark.parametrize("name", MODULES)
def test_no_generated_block_is_stale(name):
    module = _module(name)
    assert stale_blocks(module.DOCS, module.blocks()) == []  # fix: python -m <name>.results --docs-only


@pytest.mark.parametrize("name", MODULES)
def test_linked_figures_exist_are_pngs_not_blank_and_small(name):
    module = _module(name)
    links = [link for doc in module.DOCS for link in image_links(doc)]
    assert links, f"{name}: its docs link no figure"
    problems = [p for link in dict.fromkeys(links) for p in figure_problems(link, MAX_FIGURE_BYTES)]
    assert problems == []


@pytest.mark.parametrize("name", MODULES)
def test_answers_link_the_figures_the_handout_asks_for(name):
    answers = REPO / name / "ANSWERS.md"
    linked = {p for p in image_links(answers) if (REPO / name / "results") in p.parents}
    assert len(linked) >= MIN_ANSWERS_FIGURES[name], sorted(p.name for p in linked)


@pytest.mark.parametrize("name", MODULES)
def test_every_committed_figure_is_linked(name):
    """A committed PNG that no doc shows is dead weight in the repository."""
    module = _module(name)
    linked = {p.name for doc in module.DOCS for p in image_links(doc)}
    assert [f for f in module.RESULTS.figure_names() if f not in linked] == []


def test_all_results_folders_stay_small():
    total = tree_bytes(REPO / name / "results" for name in MODULES)
    assert total < MAX_RESULTS_BYTES, f"{total:,} bytes of committed results"
