"""Targeted L1 attack: stops at the target, stays a valid image, updates every step; CLI on random weights."""
import json
import math

import pytest
import torch
import torch.nn as nn

from alexnet_rnn.adversarial import (amplified, auto_alpha, batched_vs_single, perturbation_stats, resolve_targets,
                                     targeted_l1_attack, targets_for, to_8bit)
from common.errors import UserError


def tiny_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 5))


def images():
    return torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(0)).round()  # many pixels at 0 or 1


def attack_setup():
    model, x = tiny_model(), images()
    with torch.no_grad():
        clean = model(x).argmax(1)
    return model, x, (clean + 1) % 5


def test_stops_at_first_step_that_reaches_the_target():
    model, x, t = attack_setup()
    result = targeted_l1_attack(model, x, t, alpha=1e-3, lr=0.05, max_steps=200)
    assert result.success.all()
    with torch.no_grad():
        assert torch.equal(model(result.adversarial).argmax(1), t)
    assert torch.equal(result.adversarial, to_8bit(result.adversarial))  # what a PNG stores, exactly
    for i in range(len(x)):  # one step fewer must not reach the target: it stopped as soon as it could
        steps = int(result.steps[i])
        assert steps >= 1
        early = targeted_l1_attack(model, x[i:i + 1], t[i:i + 1], alpha=1e-3, lr=0.05, max_steps=steps - 1)
        assert not early.success.any()


def test_batched_examples_are_independent_in_exact_arithmetic():
    """In float64 a batched run equals the single-example runs (float32 AlexNet differs by rounding only)."""
    model, x, t = attack_setup()
    rows = batched_vs_single(model.double(), x.double(), t, torch.full((4,), 1e-3, dtype=torch.float64),
                             lr=0.05, max_steps=200)
    assert all(r["steps_batched"] == r["steps_alone"] >= 1 and r["max_abs_diff"] < 1e-9 for r in rows)


def test_valid_image_range_with_a_huge_learning_rate():
    model, x, t = attack_setup()
    result = targeted_l1_attack(model, x, t, alpha=0.0, lr=5.0, max_steps=3)
    assert result.adversarial.min() >= 0 and result.adversarial.max() <= 1
    assert (result.adversarial - x).abs().max() > 0.5  # it did move, right up to the bounds


def test_every_step_changes_the_perturbation():
    model, x, t = attack_setup()
    unreachable = torch.full_like(t, 4)
    runs = [targeted_l1_attack(model, x[:1], unreachable[:1], alpha=10.0, lr=0.01, max_steps=k).adversarial
            for k in (1, 2, 3)]
    assert not torch.equal(runs[0], runs[1]) and not torch.equal(runs[1], runs[2])


def test_model_gradients_and_mode_untouched():
    model, x, t = attack_setup()
    model.train()
    targeted_l1_attack(model, x, t, alpha=auto_alpha(model, x, t), max_steps=5)
    assert model.training and all(p.grad is None for p in model.parameters())


def test_perturbation_stats_and_amplification():
    x = torch.zeros(3, 4, 4)
    r = torch.zeros_like(x)
    r[0, 0, 0] = 0.1
    stats = perturbation_stats(x, x + r)
    assert stats["l1"] == pytest.approx(0.1) and stats["linf"] == pytest.approx(0.1)
    assert stats["psnr_db"] == pytest.approx(10 * math.log10(48 / 0.01))
    amp, gain = amplified(r)
    assert gain == pytest.approx(5.0) and amp.max() == pytest.approx(1.0) and amp.min() == pytest.approx(0.5)


def test_targets_skip_the_true_class_and_names_resolve():
    assert targets_for(7, [7, 2, 3], [7, 9, 10]) == [9, 2, 3]
    categories = ["tench", "goldfish", "great white shark"]
    assert resolve_targets(["Goldfish", "2"], categories) == [1, 2]
    with pytest.raises(UserError, match="unknown target class"):
        resolve_targets(["unicorn"], categories)


def test_cli_random_weights_saves_examples_the_prediction_tool_confirms(tmp_path, capsys):
    from alexnet_rnn.adversarial import main
    from alexnet_rnn.predict import load_image
    from alexnet_rnn.predict import main as predict_main
    from common.embedded.samples import sample_photo_paths

    photo = str(sample_photo_paths()["china"])
    metrics = main([photo, "--weights", "random", "--targets", "goldfish", "--lr", "0.1", "--max-steps", "10",
                    "--logdir", str(tmp_path / "run"), "--quiet"])
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert "RANDOM" in saved["weights"] and saved["pretrained"] is False
    assert saved["data"].startswith("library sample photos")
    assert saved["china_to_goldfish_reached"] and metrics["success_rate"] == 1.0  # 3 steps at seed 0
    figures = {p.name for p in (tmp_path / "run" / "figures").glob("*.png")}
    assert figures == {"adv_china_to_goldfish.png", "adversarial_summary.png", "adversarial_examples.png"}
    captions = json.loads((tmp_path / "run" / "figures" / "captions.json").read_text())
    assert "RANDOM" in captions["adv_china_to_goldfish.png"]
    examples = tmp_path / "run" / "examples"
    assert {p.name for p in examples.iterdir()} == {f"china_{s}.{e}" for s in ("original", "to_goldfish")
                                                    for e in ("png", "pt")}
    adv, png = torch.load(examples / "china_to_goldfish.pt"), load_image(examples / "china_to_goldfish.png")
    assert adv.shape == png.shape == (3, 224, 224) and torch.equal(adv, png)  # full resolution, PNG-exact
    assert saved["china_to_goldfish_png_class"] == "goldfish" and saved["saved_pngs_reach_target"]
    capsys.readouterr()
    shown = predict_main([str(examples / "china_original.png"), str(examples / "china_to_goldfish.png"),
                          "--weights", "random", "--logdir", str(tmp_path / "shown"), "--quiet"])
    assert shown["china_to_goldfish_top1"] == "goldfish" != shown["china_original_top1"]
