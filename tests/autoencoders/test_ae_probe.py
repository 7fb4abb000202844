"""The linear probe, the plateau measure, the interpolation pair and the seed summary."""
import json

import pytest
import torch

from autoencoders.figures import interpolation_pair, seed_summary
from autoencoders.probe import linear_probe, plateau_gain


def _codes(separable: bool, n=(300, 100, 100), dim=16, seed=0):
    gen = torch.Generator().manual_seed(seed)
    centres = 4 * torch.randn(10, dim, generator=gen)
    out = {}
    for split, size in zip(("train", "val", "test"), n):
        y = torch.arange(size) % 10
        z = torch.randn(size, dim, generator=gen) + (centres[y] if separable else 0)
        out[split] = (z, y)
    return out


def test_probe_separates_clustered_codes_and_not_noise():
    good = linear_probe(_codes(True))
    assert good["probe_test_acc1"] > 95 and good["probe_C"] in (0.01, 0.1, 1.0, 10.0)
    noise = linear_probe(_codes(False))
    assert noise["probe_test_acc1"] < 25  # 10 classes: chance is 10%


def test_plateau_gain():
    rising = [{"val_acc1": v} for v in (50, 60, 70, 80, 85, 90, 94, 97)]
    flat = [{"val_acc1": v} for v in (50, 90, 96, 97, 97, 96.5, 97, 96)]
    assert plateau_gain(rising) == pytest.approx(97 - 90)  # best of the last 2 epochs vs best before
    assert plateau_gain(flat) == pytest.approx(0.0)
    assert plateau_gain(rising[:3]) is None


@pytest.mark.parametrize("classes,pair", [([7, 2, 2, 2, 6], (0, 1)), ([1, 1, 4, 1, 1], (0, 2)),
                                          ([3, 3, 3, 3, 3], (0, 1))])
def test_interpolation_pair_is_two_of_the_five(classes, pair):
    assert interpolation_pair(classes) == pair


def test_seed_summary_mean_and_sample_std(tmp_path):
    runs = [{"digits_selfsup_test_acc1": acc, "digits_selfsup_probe_test_acc1": 99.0, "data": "d"}
            for acc in (90.0, 92.0, 94.0)]
    flat = seed_summary(runs, tmp_path)
    assert flat["digits_selfsup_test_acc1_mean"] == pytest.approx(92.0)
    assert flat["digits_selfsup_test_acc1_std"] == pytest.approx(2.0)  # n - 1
    assert flat["digits_selfsup_probe_test_acc1_std"] == 0.0
    assert "92.0 +- 2.0" in (tmp_path / "summary.md").read_text()
    assert json.loads((tmp_path / "metrics.json").read_text())["seeds"] == 3
    assert (tmp_path / "figures" / "seed_summary.png").exists()
