"""Bad inputs across the entry scripts: each is one `error:` line, exit status 2, no traceback,
and no byte of an existing run changes.

Every case calls the script's ``main(argv)`` in this process (a subprocess each would cost
~3 s of imports); an exception other than SystemExit escaping ``main`` is what a user would
see as a traceback, so it fails the test.  ``capfd`` also catches what DataLoader worker
processes print.
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path

import joblib
import numpy as np
import pytest

from common.train_digits import main as train_digits
from functaset.utils import SIREN_FILE, split_path, write_split
from miniplaces.toy_data import make_toy_miniplaces


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A finished run to protect, plus the damaged files the cases feed in."""
    root = tmp_path_factory.mktemp("bad_inputs")
    victim = root / "victim"
    train_digits(["--epochs", "1", "--train-size", "64", "-b", "32", "--device", "cpu", "--quiet",
                  "--logdir", str(victim)])
    (victim / "summary.md").write_text("a user's notes\n")
    ckpt = victim / "models" / "checkpoint.pth.tar"
    (root / "truncated.pth").write_bytes(ckpt.read_bytes()[:5000])
    (root / "text.pth").write_text("this is not a checkpoint\n")
    (root / "a_file").write_text("x")
    toy = make_toy_miniplaces(root / "toy", classes=2, train_per_class=8, val_per_class=2, size=32, seed=0)
    first_train = (toy / "train.txt").read_text().split()[0]
    (toy / "images" / first_train).write_bytes(b"not a jpeg")  # a corrupt image, read by a worker
    binary = root / "binary_ptb"
    binary.mkdir()
    for name in ("train.txt", "valid.txt"):
        (binary / name).write_bytes(bytes(range(256)) * 4)
    functa = root / "functa"
    functa.mkdir()
    rng = np.random.default_rng(0)
    for split in ("train", "val", "test"):
        write_split(split_path(functa, split, "fmnist"), rng.normal(size=(20, 512)).astype(np.float32),
                    rng.integers(0, 10, 20))
    (functa / SIREN_FILE).write_text("not a SIREN\n")
    bomb = root / "functa_bomb"  # a joblib file whose array header declares 9 TiB of float32
    bomb.mkdir()
    joblib.dump([{"modul": np.zeros(512, np.float32), "label": 1}], bomb / "fmnist_train.pkl")
    raw = (bomb / "fmnist_train.pkl").read_bytes()
    at = raw.index(b"M\x00\x02")  # BININT2 512: the array's shape
    huge = b"\x8a\x06" + (9 * 2**40 // 4).to_bytes(6, "little")  # LONG1: 9 TiB / 4 bytes per float
    (bomb / "fmnist_train.pkl").write_bytes(raw[:at] + huge + raw[at + 3:])
    return {"root": root, "victim": victim, "ckpt": ckpt, "toy": toy, "functa": functa, "binary": binary,
            "bomb": bomb, "before": snapshot(victim)}


# (script module, argv with {placeholders}, text the error line must contain)
CASES = [
    ("common.train_digits", ["-b", "0"], "positive integer"),
    ("common.train_digits", ["-p", "0"], "positive integer"),
    ("common.train_digits", ["-j", "-1"], "integer >= 0"),
    ("common.train_digits", ["--lr", "nan"], "positive finite"),
    ("common.train_digits", ["--epochs", "0"], "positive integer"),
    ("common.train_digits", ["--warmup", "-1"], ">= 0"),
    ("common.train_digits", ["--train-size", "many"], "not a number"),
    ("common.train_digits", ["--device", "tpu"], "--device"),
    ("common.train_digits", ["--resume", "{root}/truncated.pth", "--logdir", "{new}"], "truncated.pth"),
    ("common.train_digits", ["--resume", "{root}/text.pth", "--logdir", "{new}"], "text.pth"),
    ("common.train_digits", ["--resume", "{root}/missing.pth", "--logdir", "{new}"], "not found"),
    ("common.train_digits", ["--resume", "{ckpt}", "--logdir", "{new}", "-b", "16"], "batches per epoch"),
    ("common.train_digits", ["--resume", "{ckpt}", "--logdir", "{new}", "--train-size", "64", "-b", "32",
                             "--lr", "0.2"], "learning rate"),
    ("common.train_digits", ["--resume", "{ckpt}", "--logdir", "{root}/toy"], "holds another run"),
    ("common.train_digits", ["--logdir", "{victim}"], "already holds a run"),
    ("common.train_digits", ["--logdir", "{root}/a_file"], "is a file"),
    ("common.train_digits", ["--logdir", "{root}/a_file/run"], "cannot create run directory"),
    ("common.train_digits", ["--logdir", "/proc/i13_run"], "cannot create run directory"),
    ("miniplaces.main", ["{toy}", "-b", "0"], "positive integer"),
    ("miniplaces.main", ["{toy}", "-p", "0"], "positive integer"),
    ("miniplaces.main", ["{toy}", "-j", "-1"], "integer >= 0"),
    ("miniplaces.main", ["{toy}", "--image-size", "0"], "positive integer"),
    ("miniplaces.main", ["{toy}", "--use-vit", "--image-size", "32", "--vit-patch-size", "5"], "does not divide"),
    ("miniplaces.main", ["{toy}", "--attack-epsilon", "-0.1"], ">= 0"),
    ("miniplaces.main", ["{toy}", "--attack-steps", "-5"], "positive integer"),
    ("miniplaces.main", ["{toy}", "--adv-fraction", "1.5"], "between 0 and 1"),
    ("miniplaces.main", ["{toy}", "--start-epoch", "3", "--epochs", "2"], "nothing to train"),
    ("miniplaces.main", ["{toy}", "-e", "--resume", "{root}/text.pth"], "text.pth"),
    ("miniplaces.main", ["{toy}", "--num-classes", "2", "--image-size", "32", "-b", "4", "-j", "2", "--epochs", "1",
                         "--warmup", "0", "--no-amp", "--logdir", "{new}"], "cannot decode image"),
    ("functaset.classifier", ["-p", "{functa}", "--lr", "nan"], "positive finite"),
    ("functaset.classifier", ["-p", "{functa}", "--dropout", "1"], "in [0, 1)"),
    ("functaset.classifier", ["-p", "{functa}", "--epochs", "-2"], "positive integer"),
    ("functaset.classifier", ["-p", "{bomb}", "--logdir", "{new}"], "refused to load"),
    ("functaset.attack", ["-m", "{ckpt}", "-p", "{functa}", "--epsilons", "nan"], "positive finite"),
    ("functaset.attack", ["-m", "{ckpt}", "-p", "{functa}", "--epsilons", "1e-4", "inf"], "positive finite"),
    ("functaset.attack", ["-m", "{ckpt}", "-p", "{functa}", "--steps", "0"], "positive integer"),
    ("functaset.attack", ["-m", "{ckpt}", "-p", "{functa}", "--logdir", "{new}"], SIREN_FILE),
    ("functaset.make_functaset", ["--out", "{new}", "--fit-steps", "0"], "positive integer"),
    ("autoencoders.main", ["--dataset", "digits", "--temperature", "0"], "positive finite"),
    ("autoencoders.main", ["--dataset", "digits", "--ae-epochs", "-1"], "positive integer"),
    ("autoencoders.main", ["--dataset", "digits", "--latent-dim", "0"], "positive integer"),
    ("autoencoders.main", ["--dataset", "digits", "--resume", "{ckpt}"], "not a stage checkpoint"),
    ("alexnet_rnn.rnn_lm", ["--data", "{binary}"], "not UTF-8"),
    ("alexnet_rnn.rnn_lm", ["--temperatures", "-1"], ">= 0"),
    ("alexnet_rnn.rnn_lm", ["--lr", "nan"], "positive finite"),
    ("alexnet_rnn.adversarial", ["--alpha-scale", "-5"], "positive finite"),
    ("alexnet_rnn.adversarial", ["--max-steps", "-3"], "positive integer"),
    ("alexnet_rnn.adversarial", ["--lr", "nan"], "positive finite"),
    ("alexnet_rnn.predict", ["--topk", "0"], "positive integer"),
    ("alexnet_rnn.position_ffn", ["--dim", "0"], "positive integer"),
]


@pytest.mark.parametrize("module, argv, expected", CASES, ids=[f"{m}:{' '.join(a)}" for m, a, _ in CASES])
def test_bad_input_is_one_line_and_exit_2(world, module, argv, expected, capfd, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # default run directories land here
    places = {"root": world["root"], "victim": world["victim"], "ckpt": world["ckpt"], "toy": world["toy"],
              "functa": world["functa"], "binary": world["binary"], "bomb": world["bomb"],
              "new": tmp_path / "new_run"}
    argv = [a.format(**places) for a in argv]
    if "--device" not in argv:
        argv += ["--device", "cpu"]
    main = importlib.import_module(module).main
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert exit_.value.code == 2, err[-2000:]
    assert len(lines) == 1 and "Traceback" not in err, err[-2000:]
    assert expected in lines[0], lines[0]
    assert snapshot(world["victim"]) == world["before"]  # nothing of the other run changed


def test_the_table_is_large_and_covers_every_training_script():
    assert len(CASES) >= 30
    assert {m for m, _, _ in CASES} >= {"common.train_digits", "miniplaces.main", "functaset.classifier",
                                        "functaset.attack", "functaset.make_functaset", "autoencoders.main",
                                        "alexnet_rnn.rnn_lm", "alexnet_rnn.adversarial"}


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_unwritable_logdir_is_one_line(world, tmp_path, capfd):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(SystemExit) as exit_:
        train_digits(["--logdir", str(locked / "run"), "--device", "cpu", "--quiet"])
    assert exit_.value.code == 2 and "cannot create run directory" in capfd.readouterr().err
