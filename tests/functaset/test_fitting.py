"""Batched functa fitting equals the one-image loop; make_functaset writes the course format."""
import json

import joblib
import pytest
import torch

from common.embedded.digits import DigitsMNIST
from functaset.SIREN import ModulatedSIREN
from functaset.fitting import fit_modulations, fit_modulations_lbfgs, make_meta_step, per_image_mse
from functaset.make_functaset import main as make_main
from functaset.utils import load_split


def tiny_siren(seed=0):
    torch.manual_seed(seed)
    return ModulatedSIREN(hidden=16, depth=3, modul_features=8)


def test_batched_fit_equals_per_image_loop():
    inr = tiny_siren()
    images = torch.rand(5, 28, 28, generator=torch.Generator().manual_seed(3))
    batched = fit_modulations(inr, images, steps=6, lr=0.5)
    looped = torch.cat([fit_modulations(inr, images[i:i + 1], steps=6, lr=0.5) for i in range(5)])
    assert batched.abs().max() > 1e-3  # the fit actually moved the modulations
    torch.testing.assert_close(batched, looped, atol=1e-5, rtol=1e-4)


def test_fit_reduces_loss_and_leaves_siren_grads_alone():
    inr = tiny_siren()
    images = torch.rand(3, 28, 28)
    before = per_image_mse(inr, torch.zeros(3, 8), images)
    phi = fit_modulations(inr, images, steps=10, lr=0.1)
    after = per_image_mse(inr, phi, images)
    assert (after < before).all()
    assert all(p.grad is None for p in inr.parameters())


def test_lbfgs_fit_beats_the_zero_modulation():
    inr = tiny_siren()
    images = torch.rand(3, 28, 28)
    phi = fit_modulations_lbfgs(inr, images, steps=10)
    assert (per_image_mse(inr, phi, images) < per_image_mse(inr, torch.zeros(3, 8), images)).all()


def test_meta_step_first_and_second_order_give_outer_gradients():
    images = torch.rand(4, 28, 28)
    for second_order in (False, True):
        inr = tiny_siren()
        out = make_meta_step(3, 0.5, second_order)(inr, (images,))
        out.loss.backward()
        assert inr.modul.weight.grad is not None and inr.modul.weight.grad.abs().sum() > 0
        assert out.batch_size == 4 and out.sums["psnr"].shape == ()


def _build(out, logdir, *extra):
    return make_main(["--source", "digits", "--preset", "demo", "--out", str(out), "--limit", "24",
                      "--meta-batch", "8", "--fit-steps", "2", "--hidden", "16", "--depth", "2", "--modul-dim", "8",
                      "--logdir", str(logdir), "--quiet", "--device", "cpu", *extra])


def test_make_functaset_course_format_resume_and_no_overwrite(tmp_path):
    out = tmp_path / "fs"
    metrics = _build(out, tmp_path / "run1", "--meta-epochs", "1")
    assert "digits" in metrics["data"] and metrics["psnr_test"] > 5
    items = joblib.load(out / "digits_train.pkl")  # what the course loader does
    assert len(items) == 24 and items[0]["modul"].shape == (8,) and isinstance(items[0]["label"], int)
    vectors, labels = load_split(out, "test", modul_dim=8)
    assert vectors.shape == (24, 8)
    info = json.loads((out / "functaset.json").read_text())
    assert "sklearn digits" in info["data"] and info["splits"]["val"]["n"] == 24
    train, test = (DigitsMNIST(s).data[:24].float() / 255 for s in ("train", "test"))
    baseline = (-10 * torch.log10((test - train.mean(0)).pow(2).flatten(1).mean(1))).mean()  # the mean image
    assert info["splits"]["test"]["mean_image_psnr"] == pytest.approx(float(baseline), abs=1e-4)
    assert info["build_seconds"] > 0 and metrics["mean_image_psnr_test"] == info["splits"]["test"]["mean_image_psnr"]
    siren = torch.load(out / "modSiren.pth", map_location="cpu", weights_only=True)
    assert set(siren) >= {"epoch", "state_dict", "loss"} and "modul.weight" in siren["state_dict"]
    with pytest.raises(SystemExit):  # nothing gets overwritten
        _build(out, tmp_path / "run2", "--meta-epochs", "1")
    # Stage 1 resumes from the engine checkpoint and continues at epoch 2.
    ckpt = tmp_path / "run1" / "models" / "checkpoint.pth.tar"
    _build(tmp_path / "fs2", tmp_path / "run1", "--meta-epochs", "2", "--resume", str(ckpt))
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert state["epoch"] == 2 and len(state["history"]) == 2


def test_bad_meta_schedule_exits_2_before_any_work(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _build(tmp_path / "fs", tmp_path / "run", "--meta-schedule", "linear")
    assert exit_info.value.code == 2 and "--meta-schedule must be constant or cosine" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
