"""alexnet_rnn/results.py: what its docs claim about the committed results holds.

(tests/test_results_docs.py checks every assignment's generated blocks and figures.)
"""
from __future__ import annotations

from alexnet_rnn import results


def test_random_weight_photos_get_different_classes_as_the_docs_say():
    pred, attack = results.RESULTS.read_json("predictions"), results.RESULTS.read_json("adversarial")
    assert len({pred[k] for k in pred if k.endswith("_top1")}) == 3 and "--seed 13" in pred["command"]
    assert attack["clean_classes_differ"] and attack["success_rate"] == 1.0 and attack["saved_pngs_reach_target"]
