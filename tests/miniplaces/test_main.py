"""main.py smoke runs on tiny toy data: train, --resume, -e, -a -v, every model flag, bad input."""
from __future__ import annotations

import json
import urllib.error

import pytest

from miniplaces import main as mp_main

FAST = ["-b", "8", "-j", "0", "--warmup", "0", "--image-size", "32", "--quiet", "-p", "1"]


def run(root, logdir, *extra):
    return mp_main.main([str(root), "--logdir", str(logdir), *FAST, *extra])


@pytest.fixture(scope="module")
def trained(toy_root, tmp_path_factory):
    logdir = tmp_path_factory.mktemp("runs") / "simplenet"
    metrics = run(toy_root, logdir, "--epochs", "1")
    return logdir, metrics


def test_one_epoch_run_writes_run_directory(trained):
    logdir, metrics = trained
    saved = json.loads((logdir / "metrics.json").read_text())
    assert saved["data"].startswith("toy MiniPlaces-format") and "not MiniPlaces" in saved["data"]
    assert saved["arch"] == "simplenet" and saved["params"] == 365_028
    assert saved["epochs"] == 1 and "flip_val_acc1" in saved and saved["seconds_per_iter"] > 0
    assert saved["saved_activation_MB"] > 0
    assert (logdir / "models" / "checkpoint.pth.tar").is_file()
    assert (logdir / "figures" / "training_curves.png").is_file()
    assert list(logdir.glob("events.out.tfevents.*"))


def test_resume_continues_from_checkpoint(toy_root, trained, tmp_path, capsys):
    logdir, _ = trained
    ckpt = logdir / "models" / "checkpoint.pth.tar"
    resumed = mp_main.main([str(toy_root), "--logdir", str(tmp_path / "resumed"), *FAST[:-3], "--epochs", "2",
                            "--resume", str(ckpt)])
    assert "continuing at epoch 1" in capsys.readouterr().out  # the engine's resume line (not --quiet here)
    saved = json.loads((tmp_path / "resumed" / "metrics.json").read_text())
    assert resumed["epochs"] == 2 and saved["epochs"] == 2


def test_evaluate_uses_new_run_dir_and_leaves_checkpoint_run_alone(toy_root, trained, tmp_path):
    logdir, _ = trained
    before = {p: p.stat().st_mtime_ns for p in logdir.rglob("*") if p.is_file()}
    metrics = run(toy_root, tmp_path / "eval", "-e", "--resume", str(logdir / "models" / "model_best.pth.tar"))
    assert 0 <= metrics["flip_val_acc1"] <= 100 and "checkpoint" in metrics
    assert {p: p.stat().st_mtime_ns for p in logdir.rglob("*") if p.is_file()} == before


def test_attack_and_visualise(toy_root, trained, tmp_path):
    logdir, _ = trained
    out = tmp_path / "attack"
    metrics = run(toy_root, out, "-a", "-v", "--attack-grid", "--attack-max-batches", "1",
                  "--resume", str(logdir / "models" / "checkpoint.pth.tar"))
    assert metrics["attack_acc1"] <= metrics["attack_clean_acc1"]
    assert 0 < metrics["attack_linf"] <= 0.1 + 1e-6
    assert (out / "figures" / "adversarial_samples.png").is_file() and (out / "figures" / "pgd_table.png").is_file()
    assert "epsilon" in (out / "pgd_table.md").read_text()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = EventAccumulator(str(out)).Reload().Tags()["images"]
    assert {"Org_Image", "Adv_Image"} <= set(tags)


@pytest.mark.parametrize("flags,arch", [
    (["--use-custom-conv"], "simplenet_customconv"),
    (["--use-vit", "--lr", "1e-3"], "simplevit"),
    (["--use-resnet18", "--pretrained-weights", "none"], "resnet18_finetune"),
    (["--use-own-cnn", "--own-cnn-width", "8"], "places_resnet_w8"),
    (["--adv-train", "--attack-steps", "2"], "simplenet"),
])
def test_model_flags_train_one_epoch(toy_root, tmp_path, flags, arch):
    metrics = run(toy_root, tmp_path / "run", "--epochs", "1", *flags)
    assert metrics["arch"] == arch and metrics["epochs"] == 1 and metrics["train_loss"] > 0


def _expect_error(capsys, argv, *needles):
    with pytest.raises(SystemExit) as exc:
        mp_main.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    for needle in needles:
        assert needle in err[0], err[0]


def _copy_toy(toy_root, dst):
    import shutil

    shutil.copytree(toy_root, dst)
    return dst


def test_bad_label_files(toy_root, tmp_path, capsys):
    root = _copy_toy(toy_root, tmp_path / "data")
    (root / "val.txt").unlink()
    _expect_error(capsys, [str(root), *FAST, "--logdir", str(tmp_path / "r1")], "val.txt", "toy_data")
    (root / "val.txt").write_text("val/00000001.jpg 0\nval/00000002.jpg\n")
    _expect_error(capsys, [str(root), *FAST, "--logdir", str(tmp_path / "r2")], "val.txt:2", "malformed")
    (root / "val.txt").write_text("val/00000001.jpg 0\nval/00000002.jpg 100\n")
    _expect_error(capsys, [str(root), *FAST, "--logdir", str(tmp_path / "r3")], "val.txt:2", "label 100")
    (root / "val.txt").write_text("val/00000001.jpg 0\nval/missing.jpg 1\n")
    _expect_error(capsys, [str(root), *FAST, "--logdir", str(tmp_path / "r4")], "missing.jpg", "line 2")


def test_checkpoint_of_other_architecture(toy_root, trained, tmp_path, capsys):
    logdir, _ = trained
    ckpt = logdir / "models" / "checkpoint.pth.tar"
    _expect_error(capsys, [str(toy_root), *FAST, "--logdir", str(tmp_path / "r"), "--use-vit", "--lr", "1e-3", "-e",
                           "--resume", str(ckpt)], "simplenet", "simplevit")


def test_resnet18_offline_without_weights_names_both_options(toy_root, tmp_path, capsys, monkeypatch):
    from torchvision.models import ResNet18_Weights

    def offline(self, *args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(type(ResNet18_Weights.IMAGENET1K_V1), "get_state_dict", offline)
    _expect_error(capsys, [str(toy_root), *FAST, "--logdir", str(tmp_path / "r"), "--use-resnet18"],
                  "--pretrained-weights PATH", "--pretrained-weights none")
    _expect_error(capsys, [str(toy_root), *FAST, "--logdir", str(tmp_path / "r2"), "--use-resnet18",
                           "--pretrained-weights", str(tmp_path / "nope.pth")], "nope.pth", "not found")


def test_start_epoch_without_resume_skips_epochs_and_schedule(toy_root, tmp_path):
    metrics = run(toy_root, tmp_path / "start", "--epochs", "2", "--start-epoch", "1")
    import torch

    ckpt = torch.load(tmp_path / "start" / "models" / "checkpoint.pth.tar", weights_only=True)
    assert metrics["epochs"] == 2 and [h["epoch"] for h in ckpt["history"]] == [2]  # only the 2nd epoch ran
    assert ckpt["scheduler"]["last_epoch"] == 4  # 2 epochs x 2 steps: the schedule was advanced, not restarted
