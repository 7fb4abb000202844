"""Smoke runs of every mode on embedded data, figures, and the bad-input paths of main.py."""
import json

import pytest
import torch

from autoencoders.main import main

# Per-stage training-curve PNGs cost more than the tiny training itself; one test turns them back on.
TINY = ["--device", "cpu", "--quiet", "--dry-run", "--width", "8", "--batch-size", "64", "--tsne-points", "60",
        "--no-curves"]


def _recording(plot, name, shown):
    """``plot`` that first keeps its positional arguments (after the model) in ``shown[name]``."""
    def wrapper(model, *args, **kwargs):
        shown[name] = args
        return plot(model, *args, **kwargs)
    return wrapper


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """One tiny --all run on digits; also records the images given to the two item-3/4 figures."""
    import autoencoders.experiment as experiment

    root = tmp_path_factory.mktemp("ae") / "all_digits"
    shown = {}
    with pytest.MonkeyPatch.context() as patch:
        for name in ("plot_reconstructions", "plot_interpolation"):
            patch.setattr(experiment, name, _recording(getattr(experiment, name), name, shown))
        flat = main(["--all", "--dataset", "digits", "--logdir", str(root), *TINY])
    return root, flat, shown


def test_all_modes_write_metrics_figures_and_summary(digits_run):
    root, flat = digits_run[:2]
    for mode in ("selfsup", "guided", "contrastive"):
        metrics = json.loads((root / f"digits_{mode}" / "metrics.json").read_text())
        assert "not MNIST" in metrics["data"]
        assert 0 <= metrics["test_acc1"] <= 100 and flat[f"digits_{mode}_test_acc1"] == metrics["test_acc1"]
        assert (root / f"digits_{mode}" / "figures" / f"tsne_digits_{mode}.png").stat().st_size > 10_000
    selfsup = json.loads((root / "digits_selfsup" / "metrics.json").read_text())
    assert 0 < selfsup["test_mae"] < 0.5 and selfsup["encoder_frozen_verified"] is True
    for fig in ("reconstructions.png", "interpolation.png"):
        assert (root / "digits_selfsup" / "figures" / fig).exists()
    assert (root / "figures" / "summary_table.png").exists()
    summary = (root / "summary.md").read_text()
    assert summary.count("| digits |") == 3 and "not MNIST" in summary
    assert flat["digits_guided_test_acc1"] > 20  # 10 classes: chance is 10%
    assert "not MNIST" in json.loads((root / "metrics.json").read_text())["data"]
    for mode in ("selfsup", "guided", "contrastive"):
        assert 0 <= flat[f"digits_{mode}_probe_test_acc1"] <= 100


def test_interpolation_pair_is_two_of_the_five_reconstructed_images(digits_run):
    shown = digits_run[2]
    five, names = shown["plot_reconstructions"][:2]
    x_a, x_b = shown["plot_interpolation"][:2]
    assert len(five) == 5
    index = [next(i for i in range(5) if torch.equal(five[i], x)) for x in (x_a, x_b)]
    assert index[0] != index[1]
    if len(set(names)) > 1:  # two of different classes when the five allow it
        assert names[index[0]] != names[index[1]]


def test_toy_cifar_contrastive_smoke(tmp_path):
    flat = main(["--mode", "contrastive", "--dataset", "toy-cifar", "--toy-per-class", "12",
                 "--logdir", str(tmp_path / "run"), *TINY])
    assert 0 <= flat["toy-cifar_contrastive_test_acc1"] <= 100
    metrics = json.loads((tmp_path / "run" / "toy-cifar_contrastive" / "metrics.json").read_text())
    assert metrics["encoder_frozen_verified"] and "not MiniPlaces/CIFAR-10" in metrics["data"]
    assert "contrastive_val_acc1" in metrics  # positive-pair retrieval accuracy of the views


def _fails(argv, capsys, match):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and len(err.splitlines()) == 1 and match in err, err
    return err


def test_missing_dataset_path_without_download(tmp_path, capsys):
    _fails(["--mnist", "--data-path", str(tmp_path / "none"), "--logdir", str(tmp_path / "r"), *TINY], capsys,
           "MNIST not found")
    assert not (tmp_path / "r").exists()  # checked before the run directory is created


def test_wrong_latent_dim_for_saved_encoder(digits_run, tmp_path, capsys):
    ckpt = digits_run[0] / "digits_selfsup" / "autoencoder" / "models" / "checkpoint.pth.tar"
    _fails(["--mode", "selfsup", "--dataset", "digits", "--encoder", str(ckpt), "--latent-dim", "64",
            "--logdir", str(tmp_path / "r"), *TINY], capsys, "--latent-dim 128")


def test_classifier_paired_with_another_encoder(digits_run, tmp_path, capsys):
    root = digits_run[0]
    encoder = root / "digits_contrastive" / "contrastive" / "models" / "checkpoint.pth.tar"
    classifier = root / "digits_selfsup" / "classifier" / "models" / "checkpoint.pth.tar"
    _fails(["--mode", "contrastive", "--dataset", "digits", "--encoder", str(encoder), "--classifier",
            str(classifier), "--logdir", str(tmp_path / "r"), *TINY], capsys, "was trained on encoder")


def test_bad_classifier_checkpoint_fails_before_anything_trains(digits_run, tmp_path, capsys, monkeypatch):
    """A wrong, missing or mismatched --classifier used to fail only after the autoencoder had trained."""
    import autoencoders.experiment as experiment

    monkeypatch.setattr(experiment.Experiment, "run", lambda *a: pytest.fail("training started"))
    root = digits_run[0]
    encoder = root / "digits_selfsup" / "autoencoder" / "models" / "checkpoint.pth.tar"
    wrong_stage = root / "digits_selfsup" / "autoencoder" / "models" / "checkpoint.pth.tar"
    other = root / "digits_contrastive" / "classifier" / "models" / "checkpoint.pth.tar"
    common = ["--mode", "selfsup", "--dataset", "digits", "--logdir", str(tmp_path / "r"), *TINY]
    _fails([*common, "--classifier", str(tmp_path / "none.pth.tar")], capsys, "--classifier")
    _fails([*common, "--classifier", str(wrong_stage)], capsys, "--classifier")
    _fails([*common, "--encoder", str(encoder), "--classifier", str(other)], capsys, "was trained on encoder")
    _fails(["--mode", "guided", "--dataset", "digits", "--classifier", str(other), *TINY], capsys, "guided mode")
    assert not (tmp_path / "r").exists()


def test_matching_encoder_and_classifier_reproduce_the_test_accuracy(digits_run, tmp_path):
    root, flat = digits_run[:2]
    flat2 = main(["--mode", "contrastive", "--dataset", "digits", "--logdir", str(tmp_path / "r"), *TINY,
                  "--encoder", str(root / "digits_contrastive" / "contrastive" / "models" / "checkpoint.pth.tar"),
                  "--classifier", str(root / "digits_contrastive" / "classifier" / "models" / "checkpoint.pth.tar")])
    assert flat2["digits_contrastive_test_acc1"] == pytest.approx(flat["digits_contrastive_test_acc1"])


def test_existing_run_directory_is_not_overwritten(digits_run, capsys):
    root = digits_run[0]
    before = (root / "metrics.json").read_bytes()
    _fails(["--all", "--dataset", "digits", "--logdir", str(root), *TINY], capsys, "already holds a run")
    assert (root / "metrics.json").read_bytes() == before


def test_contradicting_flags(tmp_path, capsys):
    _fails(["--self-supervised", "--mode", "guided", "--logdir", str(tmp_path / "r")], capsys, "contradicts")


def test_resume_continues_the_interrupted_stage(tmp_path):
    root = tmp_path / "run"
    main(["--mode", "guided", "--dataset", "digits", "--logdir", str(root), *TINY])
    stage = root / "digits_guided" / "joint"
    # Simulate a stop after epoch 1 of 2: the checkpoint is there, the metrics are not yet.
    for done in (stage / "metrics.json", root / "digits_guided" / "metrics.json", root / "metrics.json"):
        done.unlink()
    ckpt = stage / "models" / "checkpoint.pth.tar"
    assert torch.load(ckpt, weights_only=True)["epoch"] == 1
    flat = main(["--mode", "guided", "--dataset", "digits", *TINY, "--joint-epochs", "2", "--resume", str(ckpt),
                 "--curves"])
    assert (stage / "figures" / "training_curves.png").exists()
    history = torch.load(ckpt, weights_only=True)["history"]
    assert [h["epoch"] for h in history] == [1, 2]  # epoch 1 kept from before, epoch 2 trained now
    assert flat["digits_guided_joint_epochs"] == 2 and (root / "metrics.json").exists()


def test_resume_path_must_be_a_stage_checkpoint(tmp_path, capsys):
    bogus = tmp_path / "ckpt.pth.tar"
    bogus.write_bytes(b"x")
    _fails(["--mode", "guided", "--dataset", "digits", "--resume", str(bogus), *TINY], capsys, "expected <run>")


@pytest.mark.gpu
def test_all_modes_on_cuda_with_amp(tmp_path):
    flat = main(["--all", "--dataset", "toy-cifar", "--toy-per-class", "30", "--logdir", str(tmp_path / "run"),
                 *[a if a != "cpu" else "cuda" for a in TINY]])
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["device"].startswith("cuda") and config["precision"] in ("bf16", "fp16")
    assert all(0 <= flat[f"toy-cifar_{m}_test_acc1"] <= 100 for m in ("selfsup", "guided", "contrastive"))


def test_mnist_flag_runs_on_torchvision_layout(tmp_path, fake_mnist):
    flat = main(["--mnist", "--self-supervised", "--data-path", str(fake_mnist), "--val-size", "50",
                 "--logdir", str(tmp_path / "run"), *TINY])
    metrics = json.loads((tmp_path / "run" / "mnist_selfsup" / "metrics.json").read_text())
    assert metrics["data"].startswith("MNIST (torchvision") and 0 < metrics["test_mae"] < 1
    assert flat["mnist_selfsup_encoder_frozen_verified"] is True


def test_random_codes_from_a_saved_autoencoder(digits_run, tmp_path, capsys):
    from autoencoders.random_codes import cli

    ckpt = digits_run[0] / "digits_selfsup" / "autoencoder" / "models" / "checkpoint.pth.tar"
    metrics = cli(["--checkpoint", str(ckpt), "--out", str(tmp_path / "rc")])
    assert metrics["n0_i_code_norm"] > 0 and 0 < metrics["test_codes_nearest_train_mae"] < 1
    assert (tmp_path / "rc" / "figures" / "random_codes.png").exists()
    with pytest.raises(SystemExit) as exc:
        cli(["--checkpoint", str(tmp_path / "none.pth.tar"), "--out", str(tmp_path / "rc2")])
    assert exc.value.code == 2 and "checkpoint not found" in capsys.readouterr().err
