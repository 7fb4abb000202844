"""The submission notebook: committed executed and current with the sources; runs where this repository is absent.

The committed assignment2.ipynb must equal, cell for cell, what ``alexnet_rnn.build_notebook``
generates from today's sources (so it cannot go stale: after changing an inlined module, run
``python -m alexnet_rnn.build_notebook``), and carry the outputs of its execution.  A fresh copy
is executed with the quick settings in a fresh kernel, in a temporary folder, with ``common`` and
``alexnet_rnn`` blocked, and must answer every programming part.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")

from alexnet_rnn import build_notebook  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
NEEDLES = ("Layer 1 = conv1", "Layer 4 = pool2", "gradient and impulse checks: agree", "NOT PTB",
           "china -> goldfish: the saved PNG is classified as goldfish", "validation perplexity: untrained",
           "greedy (argmax):", "sampled (softmax, T=1):", "euclidean distance between the embeddings",
           "Linear and Conv1d outputs match, shape (4, 10, 16)")


def outputs(nb) -> tuple[str, int]:
    """All text the code cells printed, and how many figures they showed."""
    cells = [c for c in nb.cells if c.cell_type == "code"]
    text = "".join(o.get("text", "") + "".join(o.get("data", {}).get("text/plain", "")) for c in cells
                   for o in c.outputs)
    return text, sum("image/png" in o.get("data", {}) for c in cells for o in c.outputs)


def test_committed_notebook_is_current_executed_and_standalone():
    assert build_notebook.stale(build_notebook.NOTEBOOK) is None, \
        "assignment2.ipynb is stale: run python -m alexnet_rnn.build_notebook"
    nb = nbformat.read(build_notebook.NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count == i for i, c in enumerate(code, 1))  # executed top to bottom, once
    assert not any(o.output_type == "error" for c in code for o in c.outputs)
    text, images = outputs(nb)
    for needle in NEEDLES:
        assert needle in text, needle
    assert images == 5 and str(REPO) not in text and "/tmp/" not in text
    executed = [line for c in code for line in c.source.splitlines()]  # type-checking imports are indented
    assert not [line for line in executed if re.match(r"(from|import) (common|alexnet_rnn)\b", line)]


def test_quick_notebook_runs_where_the_repository_is_absent(tmp_path):
    nb = build_notebook.new_notebook()
    probe = (f"import os\ntry:\n    import common  # noqa: F401\nexcept ImportError:\n    print('repository absent')\n"
             f"print('cwd outside the repository:', not os.getcwd().startswith({str(REPO)!r}))")
    nb.cells.append(nbformat.v4.new_code_cell(probe))
    build_notebook.execute(nb, "quick", timeout=300, workdir=tmp_path / "run")
    text, images = outputs(nb)
    for needle in (*NEEDLES, "repository absent", "cwd outside the repository: True"):
        assert needle in text, needle
    assert images == 5 and str(REPO) not in text
    examples = tmp_path / "run" / "assignment2_outputs" / "q1c_examples"
    assert {"grace_hopper_to_goldfish.pt", "china_to_goldfish.png", "china_original.png"} <= {
        p.name for p in examples.iterdir()}
