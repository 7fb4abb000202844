"""Item 9's examples: which samples are picked (with fallbacks), and what each panel decodes."""
import json

import torch

from functaset.SIREN import ModulatedSIREN
from functaset.visualize import decoded_panels, pick_examples, plot_attack_examples


def outcome_table():
    """3 classes x 4 samples, 3 bounds.  Class 1 is never broken at bound 1, only at bound 2;
    class 2's sample 11 is misclassified even without attack (never usable)."""
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    clean_ok = torch.ones(12, dtype=torch.bool)
    clean_ok[11] = False
    correct = torch.ones(3, 12, dtype=torch.bool)
    correct[1:, [1, 9]] = False   # class 0 and 2 broken from bound 1 on
    correct[1:, 11] = False
    correct[2, 5] = False         # class 1 broken only at bound 2
    return labels, clean_ok, correct


def test_pick_prefers_the_chosen_bound_and_falls_back_per_row():
    labels, clean_ok, correct = outcome_table()
    rows = pick_examples(labels, clean_ok, correct, start=1, n_classes=3)
    assert [(r.cls, r.succeeded, r.index, r.bound) for r in rows] == [
        (0, True, 1, 1), (0, False, 0, 1), (2, True, 9, 1), (2, False, 8, 1), (1, True, 5, 2), (1, False, 4, 1)]
    for r in rows:  # every pick has the outcome it claims, at the bound it names
        assert clean_ok[r.index] and labels[r.index] == r.cls and bool(correct[r.bound, r.index]) != r.succeeded
    assert len(pick_examples(labels, clean_ok, correct, start=1, n_classes=1)) == 2


def test_perturbation_panel_is_the_decoded_perturbation_vector():
    torch.manual_seed(0)
    inr = ModulatedSIREN(hidden=16, depth=2, modul_features=8)
    x, d = torch.randn(8), 1e-2 * torch.randn(8)
    clean, pert_img, perturbed, diff = decoded_panels(inr, x, x + d)
    with torch.no_grad():
        torch.testing.assert_close(pert_img, inr(d))
        torch.testing.assert_close(diff, inr(x + d) - inr(x))


def test_figure_has_the_rows_and_says_where_it_fell_back(tmp_path):
    labels, clean_ok, correct = outcome_table()
    rows = pick_examples(labels, clean_ok, correct, start=1, n_classes=3)
    inr = ModulatedSIREN(hidden=16, depth=2, modul_features=8)
    x = torch.randn(12, 8)
    x_adv = x + 1e-3 * torch.randn(3, 12, 8)
    adv_pred = torch.where(correct, labels, (labels + 1) % 3)
    plot_attack_examples(inr, x, x_adv, labels, adv_pred, rows, ["zero", "one", "two"], tmp_path / "ex.png",
                         bound_names=["1e-4", "5e-4", "1e-3"], start=1, n_classes=3, data="toy", title="t")
    caption = json.loads((tmp_path / "captions.json").read_text())["ex.png"]
    assert "one success at eps=1e-3" in caption and (tmp_path / "ex.png").stat().st_size > 10_000
