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
    """-e -v (allowed, as in the course) logs the validation images; --gpu -1 means the CPU."""
    logdir, _ = trained
    before = {p: p.stat().st_mtime_ns for p in logdir.rglob("*") if p.is_file()}
    out = tmp_path / "eval"
    metrics = run(toy_root, out, "-e", "-v", "--gpu", "-1", "--resume", str(logdir / "models" / "model_best.pth.tar"))
    assert 0 <= metrics["flip_val_acc1"] <= 100 and "checkpoint" in metrics
    assert {p: p.stat().st_mtime_ns for p in logdir.rglob("*") if p.is_file()} == before
    assert json.loads((out / "config.json").read_text())["device"] == "cpu"
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert "Image" in EventAccumulator(str(out)).Reload().Tags()["images"]


def test_attack_and_visualise(toy_root, trained, tmp_path):
    logdir, _ = trained
    out = tmp_path / "attack"
    metrics = run(toy_root, out, "-a", "-v", "--attack-grid", "--attack-max-batches", "1",
                  "--resume", str(logdir / "models" / "checkpoint.pth.tar"))
    assert metrics["attack_acc1"] <= metrics["attack_clean_acc1"]
    assert 0 < metrics["attack_linf"] <= 0.1 + 1e-6
    assert (out / "figures" / "adversarial_samples.png").is_file() and (out / "figures" / "pgd_table.png").is_file()
    assert "epsilon" in (out / "pgd_table.md").read_text()
    rows = json.loads((out / "pgd_table.json").read_text())["rows"]  # what the results module quotes
    assert len(rows) == 9 and all(r["attacked_acc1"] <= r["clean_acc1"] + 1e-9 for r in rows)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = EventAccumulator(str(out)).Reload().Tags()["images"]
    assert {"Org_Image", "Adv_Image"} <= set(tags)


@pytest.mark.parametrize("flags,arch,clipped", [
    (["--use-custom-conv"], "simplenet_customconv", False),
    (["--use-vit", "--lr", "1e-3"], "simplevit", True),
    (["--use-resnet18", "--pretrained-weights", "none"], "resnet18_finetune", False),
    (["--use-own-cnn", "--own-cnn-width", "8", "--clip-grad-all"], "places_resnet_w8", True),
    (["--adv-train", "--attack-steps", "2"], "simplenet", False),
])
def test_model_flags_train_one_epoch(toy_root, tmp_path, monkeypatch, flags, arch, clipped):
    """Every model trains; gradients are clipped for the ViT only (the course's rule) unless --clip-grad-all."""
    import torch

    calls = []
    clip = torch.nn.utils.clip_grad_norm_
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", lambda *a, **k: calls.append(1) or clip(*a, **k))
    metrics = run(toy_root, tmp_path / "run", "--epochs", "1", *flags)
    assert metrics["arch"] == arch and metrics["epochs"] == 1 and metrics["train_loss"] > 0
    assert bool(calls) == clipped


def test_flip_evaluation_averages_logits():
    """The course's -e: output = (model(x) + model(flip(x))) / 2 on the logits (not on softmax probabilities)."""
    import torch

    from miniplaces.evaluation import flip_eval_step

    weight = torch.randn(3, 2 * 4 * 4)
    model = lambda x: x.flatten(1) @ weight.t() * 10  # noqa: E731 - sharp logits: softmax vs logit means differ
    images, targets = torch.randn(5, 2, 4, 4), torch.tensor([0, 1, 2, 0, 1])
    out = flip_eval_step(model, (images, targets))
    torch.testing.assert_close(out.logits, 0.5 * (model(images) + model(images.flip(3))))
    torch.testing.assert_close(out.loss, torch.nn.functional.cross_entropy(out.logits, targets))


def test_course_flag_names_types_and_aliases():
    parser = mp_main.build_parser()
    args = parser.parse_args(["DIR", "--learning-rate", "0.5", "--weight-decay", "0.2", "--warmup", "3"])
    assert (args.lr, args.wd, args.warmup) == (0.5, 0.2, 3)
    defaults = parser.parse_args(["DIR"])
    assert (defaults.epochs, defaults.warmup, defaults.clip_grad, defaults.batch_size, defaults.lr, defaults.momentum,
            defaults.wd, defaults.print_freq, defaults.workers, defaults.start_epoch) == (90, 5, 1.0, 256, 0.1, 0.9,
                                                                                        1e-4, 10, 4, 0)
    with pytest.raises(SystemExit):
        parser.parse_args(["DIR", "--warmup", "0.5"])  # an int, as in the course


def test_default_run_uses_the_course_recipe(tmp_path):
    """`python miniplaces/main.py DATA --epochs 1` and nothing else: seed 2024, fp32, val batch 100,
    drop_last (300 images at -b 256 = one step), no clipping of SimpleNet, course checkpoint keys."""
    import subprocess
    import sys
    from pathlib import Path

    import torch

    from miniplaces.toy_data import make_toy_miniplaces

    data = make_toy_miniplaces(tmp_path / "data", classes=10, train_per_class=30, val_per_class=15, size=8, seed=0)
    script = Path(mp_main.__file__)
    out = subprocess.run([sys.executable, str(script), str(data), "--epochs", "1"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    (run_dir,) = (tmp_path / "logs" / "miniplaces").glob("exp_*")
    config = json.loads((run_dir / "config.json").read_text())
    args = config["args"]
    assert (args["seed"], args["amp"], args["val_batch_size"], args["batch_size"], args["warmup"]) == \
        (2024, False, 100, 256, 5)
    assert (args["clip_grad"], args["clip_grad_all"], args["gpu"], args["wd_skip_norms"]) == (1.0, False, None, False)
    assert config["precision"] == "fp32"
    ckpt = torch.load(run_dir / "models" / "checkpoint.pth.tar", weights_only=True)
    assert ckpt["scheduler"]["last_epoch"] == 1  # 300 // 256 batches: the partial batch was dropped
    assert ckpt["best_acc1"] == ckpt["best_metric"] and ckpt["model_arch"] == "simplenet" and ckpt["epoch"] == 1


def test_gpu_and_device_must_agree(toy_root, tmp_path, capsys):
    _expect_error(capsys, [str(toy_root), *FAST, "--logdir", str(tmp_path / "r"), "--gpu", "0", "--device", "cpu"],
                  "--gpu 0", "--device cpu")


def test_too_few_images_for_one_batch(toy_root, tmp_path, capsys):
    _expect_error(capsys, [str(toy_root), *FAST[2:], "-b", "64", "--logdir", str(tmp_path / "r")],
                  "16 images", "-b 64")


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
