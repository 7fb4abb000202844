"""alexnet_rnn/results.py: the docs' generated blocks equal what the committed JSON renders; figures are linked.

(tests/test_results_docs.py checks every assignment's results the same way once it exists; this keeps
alexnet_rnn's own contract tested on its own.)
"""
from __future__ import annotations

from common.results import image_links, stale_blocks

from alexnet_rnn import results


def test_docs_quote_the_committed_results_and_link_their_figures():
    assert stale_blocks(results.DOCS, results.blocks()) == []  # fix: python -m alexnet_rnn.results --docs-only
    figures = results.RESULTS.figures
    linked = {p for p in image_links(results.DOCS[0]) if figures in p.parents}
    assert len(linked) >= 3 and all(p.is_file() and p.stat().st_size < 400_000 for p in linked)
    committed = {p for p in figures.glob("*.png")}
    assert committed <= {p for doc in results.DOCS for p in image_links(doc)}  # no unlinked figure
    assert sum(f.stat().st_size for f in results.RESULTS.path.rglob("*") if f.is_file()) < 2_000_000


def test_random_weight_photos_get_different_classes_as_the_docs_say():
    pred, attack = results.RESULTS.read_json("predictions"), results.RESULTS.read_json("adversarial")
    assert len({pred[k] for k in pred if k.endswith("_top1")}) == 3 and "--seed 13" in pred["command"]
    assert attack["clean_classes_differ"] and attack["success_rate"] == 1.0 and attack["saved_pngs_reach_target"]
