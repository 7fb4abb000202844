"""No host sync inside a training step, for every entry script on the engine and both MiniPlaces data paths.

Counted on the CPU by :func:`common.syncs.count_training_syncs` (aten ops whose CUDA implementation
blocks the host, plus host reads and blocking copies made by our code; see common/syncs.py for what
a CPU run can and cannot see).  Steps that log (every ``-p``) may sync; every other step must make 0.
The ``--data-on-device`` path runs the GPU's augmentation kernel (grid_sample), forced on CPU tensors,
once with the data resident and once through the host-gather fallback.  Measured with the same
counter on the code before this test (mean per step of short runs): 12 on the device path with the
GPU kernel (per batch 3 ``nonzero``, 6 constants copied from the host, 2 blocking index copies; the
sampler's host lists in the epoch's first step), 4 with miniplaces ``--adv-train`` and 3 with
functaset's PGD/TRADES training (epsilon, step size and bounds copied per PGD call), 3.75 for the
contrastive autoencoder (colour-jitter constants, the loss's targets), 1.25 for the other autoencoder
stages (per-epoch index work inside the first step), 0 for the rest; plus, on a GPU, a
``torch.cuda.synchronize`` per step in miniplaces' step profiler, which a CPU run cannot see (tested
in tests/miniplaces/test_report_timing.py).
"""
import pytest
import torch

from common.syncs import count_training_syncs


@pytest.fixture(scope="module")
def toy_miniplaces(tmp_path_factory):
    from miniplaces.toy_data import make_toy_miniplaces

    return make_toy_miniplaces(tmp_path_factory.mktemp("toy"), classes=4, train_per_class=8, val_per_class=2,
                               size=32, seed=0)


@pytest.fixture(scope="module")
def functaset_root(tmp_path_factory):
    from functaset.make_functaset import main

    root = tmp_path_factory.mktemp("functa")
    main(["--source", "digits", "--preset", "demo", "--out", str(root / "fs"), "--meta-epochs", "0", "--hidden", "16",
          "--depth", "2", "--modul-dim", "32", "--fit-optimizer", "sgd", "--fit-steps", "1", "--fit-lr", "10",
          "--limit", "150", "--logdir", str(root / "build"), "--quiet", "--device", "cpu"])
    return root / "fs"


def miniplaces(root, tmp_path, *extra):
    from miniplaces.main import main

    main([str(root), "--num-classes", "4", "--image-size", "32", "-b", "4", "-j", "0", "--epochs", "1", "--warmup", "0",
          "--quiet", "--device", "cpu", "-p", "3", "--logdir", str(tmp_path / "run"), *extra])


def functaset(root, tmp_path, *extra):
    from functaset.classifier import main

    main(["-p", str(root), "--epochs", "1", "--hidden", "32", "--depth", "1", "-b", "32", "--logdir",
          str(tmp_path / "run"), "--quiet", "--device", "cpu", *extra])


def autoencoders(tmp_path, mode):
    from autoencoders.main import main

    main(["--mode", mode, "--dataset", "digits", "--logdir", str(tmp_path / "run"), "--device", "cpu", "--quiet",
          "--dry-run", "--width", "8", "--batch-size", "64", "--tsne-points", "60", "--no-curves", "-p", "3"])


def digits(tmp_path):
    from common.train_digits import main

    main(["--device", "cpu", "--epochs", "1", "--train-size", "80", "-b", "16", "-p", "4", "-j", "0", "--quiet",
          "--logdir", str(tmp_path / "run")])


def language_model(tmp_path):
    from alexnet_rnn.rnn_lm import main

    main(["--dry-run", "--max-chars", "4000", "--num-samples", "2", "--logdir", str(tmp_path / "run"), "--quiet",
          "--device", "cpu", "-p", "3", "--seq-length", "10"])


def meta_learning(tmp_path):
    from functaset.make_functaset import main

    main(["--source", "digits", "--preset", "demo", "--out", str(tmp_path / "fs"), "--meta-epochs", "1", "--hidden",
          "16", "--depth", "2", "--modul-dim", "16", "--fit-optimizer", "sgd", "--fit-steps", "1", "--limit", "64",
          "--logdir", str(tmp_path / "build"), "--quiet", "--device", "cpu"])


def force_gpu_kernel(monkeypatch, placement="resident"):
    import miniplaces.device_data as dd

    monkeypatch.setattr(dd.CourseAugment, "kernel", "grid_sample")
    monkeypatch.setattr(dd, "choose_placement", lambda data, target, current_cuda=None: placement)


CASES = {
    "digits (engine example)": lambda tmp, mp, **_: digits(tmp),
    "miniplaces JPEG path": lambda tmp, toy, **_: miniplaces(toy, tmp),
    "miniplaces --data-on-device, GPU kernel": lambda tmp, toy, mp, **_: (
        force_gpu_kernel(mp), miniplaces(toy, tmp, "--data-on-device")),
    "miniplaces --data-on-device, host-gather fallback": lambda tmp, toy, mp, **_: (
        force_gpu_kernel(mp, "host"), miniplaces(toy, tmp, "--data-on-device")),
    "miniplaces --adv-train": lambda tmp, toy, **_: miniplaces(toy, tmp, "--adv-train", "--attack-steps", "2"),
    "functaset classifier": lambda tmp, fs, **_: functaset(fs, tmp),
    "functaset --adv-train trades": lambda tmp, fs, **_: functaset(fs, tmp, "--adv-train", "trades",
                                                                    "--train-steps", "2"),
    "functaset meta-learning (make_functaset)": lambda tmp, **_: meta_learning(tmp),
    "autoencoders selfsup": lambda tmp, **_: autoencoders(tmp, "selfsup"),
    "autoencoders contrastive": lambda tmp, **_: autoencoders(tmp, "contrastive"),
    "alexnet_rnn language model": lambda tmp, **_: language_model(tmp),
}


@pytest.mark.parametrize("case", list(CASES))
def test_training_steps_make_no_host_sync(case, tmp_path, monkeypatch, request):
    needs = CASES[case].__code__.co_varnames
    kwargs = {"mp": monkeypatch}
    if "toy" in needs:
        kwargs["toy"] = request.getfixturevalue("toy_miniplaces")
    if "fs" in needs:
        kwargs["fs"] = request.getfixturevalue("functaset_root")
    torch.manual_seed(0)
    with count_training_syncs() as steps:
        CASES[case](tmp_path, **kwargs)
    quiet = [s for s in steps if not s.logging]
    assert len(quiet) >= 3, f"{case}: only {len(quiet)} steps between logging points were seen"
    syncing = [(s.epoch, s.step, dict(s.counts)) for s in quiet if s.total]
    assert not syncing, f"{case}: host syncs inside training steps: {syncing[:3]}"
