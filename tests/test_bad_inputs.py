"""Bad inputs across the entry scripts: each is one `error:` line, exit status 2, no traceback,
and no byte of an existing run changes.

Every case calls the script's ``main(argv)`` in this process (a subprocess each would cost
~3 s of imports); an exception other than SystemExit escaping ``main`` is what a user would
see as a traceback, so it fails the test.  ``capfd`` also catches what DataLoader worker
processes print.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib
import io
import os
import pickle
import shutil
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch

from common.train_digits import main as train_digits
from functaset.utils import SIREN_FILE, split_path, write_split
from miniplaces.cache import cache_paths, ensure_cache
from miniplaces.toy_data import make_toy_miniplaces


def snapshot(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root``."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


class _Call:
    """Pickles as ``func(*args)``."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def write_memory_bombs(root: Path) -> None:
    """The issue's three functaset bombs, each a fmnist_train.pkl of its own folder (all small on disk)."""
    from numpy._core.numeric import _frombuffer

    buf = io.BytesIO()
    joblib.dump([{"modul": np.zeros(512, np.float32), "label": 1}], buf)
    raw = buf.getvalue()
    at = raw.index(b"M\x00\x02")  # BININT2 512, the array's length -> BININT 768 MiB of float32
    raw = raw[:at] + b"J" + (768 * 2**20 // 4).to_bytes(4, "little") + raw[at + 3:]
    data = raw.index(bytes(2048))
    zero_mib = gzip.compress(bytes(2**20))  # gzip members concatenate: 768 of them inflate to 768 MiB
    bombs = {"bomb_frombuffer": pickle.dumps(_Call(_frombuffer, (1_500_000_000, np.dtype("u1"), (1_500_000_000,),
                                                                 "C")), protocol=2),
             "bomb_gzip_vector": gzip.compress(raw[:data]) + zero_mib * 768 + gzip.compress(raw[data + 2048:]),
             "bomb_gzip_zeros": zero_mib * 768}
    for name, content in bombs.items():
        (root / name).mkdir()
        (root / name / "fmnist_train.pkl").write_bytes(content)


def zero_inside_a_tensor(ckpt: Path, out: Path) -> None:
    """64 zero bytes in the middle of the checkpoint's largest tensor."""
    with zipfile.ZipFile(ckpt) as archive:
        info = max(archive.infolist(), key=lambda i: i.file_size)
    raw = bytearray(ckpt.read_bytes())
    at = info.header_offset + 128 + info.file_size // 2
    raw[at:at + 64] = bytes(64)
    out.write_bytes(bytes(raw))


def write_damaged_toys(root: Path, clean: Path) -> None:
    """Toy MiniPlaces copies, each with one fault of the decoded cache or of its JPEGs."""
    for name in ("toy_zeroed", "toy_labels", "toy_cachefile", "toy_truncated"):
        shutil.copytree(clean, root / name)
    for name in ("toy_zeroed", "toy_labels"):
        for split in ("train", "val"):
            ensure_cache(root / name, split, 36, 2, quiet=True)
    images = cache_paths(root / "toy_zeroed", "train", 36)["images"]
    raw = bytearray(images.read_bytes())
    raw[-5000:-4936] = bytes(64)  # same size, 64 pixel bytes black
    images.write_bytes(bytes(raw))
    labels = cache_paths(root / "toy_labels", "train", 36)["labels"]
    np.save(labels, np.where(np.arange(16) == 3, 7, np.load(labels)))  # label 7 of 2 classes
    (root / "toy_cachefile" / "cache").write_text("a file where the cache folder goes\n")
    lines = (root / "toy_truncated" / "train.txt").read_text().split()[::2]
    for rel, fraction in ((lines[2], 0.6), (lines[7], 0.9)):
        path = root / "toy_truncated" / "images" / rel
        path.write_bytes(path.read_bytes()[:int(path.stat().st_size * fraction)])


def write_resume_cases(root: Path, victim: Path) -> None:
    """``older``: a copy of the victim run whose checkpoint.pth.tar went on to epoch 2 while model_best.pth.tar
    stayed at epoch 1; ``otherarch.pth``: the victim's checkpoint relabelled as another model."""
    older = shutil.copytree(victim, root / "older")
    ckpt = torch.load(victim / "models" / "checkpoint.pth.tar", weights_only=True)
    torch.save({**ckpt, "epoch": 2}, older / "models" / "checkpoint.pth.tar")
    torch.save({**ckpt, "arch": "other_net"}, root / "otherarch.pth")


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
    clean = make_toy_miniplaces(root / "toy_clean", classes=2, train_per_class=8, val_per_class=2, size=32, seed=0)
    write_damaged_toys(root, clean)
    toy = shutil.copytree(clean, root / "toy")
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
    write_memory_bombs(root)
    zero_inside_a_tensor(ckpt, root / "zeroed.pth")
    write_resume_cases(root, victim)
    return {"root": root, "victim": victim, "ckpt": ckpt, "toy": toy, "functa": functa, "binary": binary,
            "bomb": bomb, "before": snapshot(victim), "all_before": snapshot(root)}


TINY = ["--train-size", "64", "-b", "32"]  # the victim run's data and batch size

# miniplaces/main.py on the toy copies: one epoch, decoded cache on the device (CPU here)
DEVICE_RUN = ["--num-classes", "2", "--image-size", "32", "-b", "4", "-j", "0", "--epochs", "1", "--warmup", "0",
              "--no-amp", "--logdir", "{new}", "--data-on-device"]
CACHE_CLI = ["--size", "36", "--num-classes", "2", "--quiet"]


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
    ("common.train_digits", ["--resume", "{root}/truncated.pth", "--logdir", "{new}"], "given to --resume is "
                                                                                       "incomplete (5,000 bytes)"),
    ("common.train_digits", ["--resume", "{root}/zeroed.pth", "--logdir", "{new}"], "zeroed.pth given to --resume "
                                                                                    "is damaged: its record"),
    ("common.train_digits", ["--resume", "{root}/text.pth", "--logdir", "{new}"], "text.pth"),
    ("common.train_digits", ["--resume", "{root}/missing.pth", "--logdir", "{new}"], "not found"),
    ("common.train_digits", ["--resume", "{ckpt}", "--logdir", "{new}", "-b", "16"], "batches per epoch"),
    ("common.train_digits", ["--resume", "{ckpt}", "--logdir", "{new}", "--train-size", "64", "-b", "32",
                             "--lr", "0.2"], "learning rate"),
    ("common.train_digits", ["--resume", "{ckpt}", "--logdir", "{root}/toy"], "holds another run"),
    # a resume never rewinds a run in place, never trains nothing, never writes into a run of another kind
    ("common.train_digits", ["--resume", "{root}/older/models/model_best.pth.tar", "--epochs", "3", *TINY],
     "is at the end of epoch 1, but its run {root}/older went further: {root}/older/models/checkpoint.pth.tar is "
     "at the end of epoch 2"),
    ("common.train_digits", ["--resume", "{root}/older/models/model_best.pth.tar", "--epochs", "3", *TINY,
                             "--logdir", "{root}/older"], "resume the newer one with --resume"),
    ("common.train_digits", ["--resume", "{ckpt}", "--epochs", "1", *TINY], "--epochs 1 leaves nothing to train"),
    ("common.train_digits", ["--resume", "{ckpt}", "--epochs", "1", *TINY, "--logdir", "{new}"],
     "pass --epochs above 1"),
    ("common.train_digits", ["--resume", "{ckpt}", "--epochs", "2", "-b", "16"], "batches per epoch"),  # refused
    # late (it needs the loader): the config_resume_*.json its start wrote into the run is removed again
    ("common.train_digits", ["--resume", "{root}/otherarch.pth", "--logdir", "{new}"], "architecture 'other_net'"),
    ("common.train_digits", ["--resume", "{victim}/models"], "is a directory, not a checkpoint file; did you mean "
                                                             "{victim}/models/checkpoint.pth.tar"),
    ("functaset.classifier", ["-p", "{functa}", "--resume", "{ckpt}"], "was written by digits, not"),
    ("miniplaces.main", ["{toy}", "--resume", "{ckpt}", "--num-classes", "2", "--image-size", "32", "-b", "4",
                         "-j", "0", "--epochs", "2"], "was written by digits, not"),
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
    ("functaset.classifier", ["-p", "{root}/bomb_frombuffer", "--logdir", "{new}"],
     "fmnist_train.pkl: _frombuffer needs bytes read from the file, not int"),
    ("functaset.classifier", ["-p", "{root}/bomb_gzip_vector", "--logdir", "{new}"],
     "fmnist_train.pkl: an array of shape (201326592,) (805,306,368 bytes) would take more than 64 MiB"),
    ("functaset.classifier", ["-p", "{root}/bomb_gzip_zeros", "--logdir", "{new}"],
     "fmnist_train.pkl: invalid pickle opcode 0x00"),
    ("functaset.classifier", ["-p", "{functa}", "--init-from", "{root}/text.pth", "--logdir", "{new}"],
     "text.pth given to --init-from is corrupt"),
    ("functaset.make_functaset", ["--out", "{new}", "--siren", "{root}/zeroed.pth"], "given to --siren is damaged"),
    ("functaset.attack", ["-m", "{ckpt}", "-p", "{functa}", "--logdir", "{new}"], "given to -p/--data-path"),
    ("autoencoders.main", ["--dataset", "digits", "--mode", "selfsup", "--encoder", "{root}/truncated.pth",
                           "--logdir", "{new}"], "given to --encoder is incomplete"),
    ("autoencoders.main", ["--dataset", "digits", "--mode", "selfsup", "--dry-run", "--classifier",
                           "{root}/text.pth", "--logdir", "{new}"], "given to --classifier is corrupt"),
    ("miniplaces.main", ["{root}/toy_zeroed", *DEVICE_RUN], "train_36.npy is damaged: the pixels of images 1..16"),
    ("miniplaces.main", ["{root}/toy_labels", *DEVICE_RUN], "train_36.labels.npy is damaged: its labels are not "
                                                             "those of"),
    ("miniplaces.main", ["{root}/toy_cachefile", *DEVICE_RUN], "toy_cachefile/cache is a file"),
    ("miniplaces.main", ["{root}/toy_truncated", *DEVICE_RUN], "2 of 16 images listed in"),
    ("miniplaces.main", ["{root}/toy_truncated", *DEVICE_RUN[:6], "-j", "2", *DEVICE_RUN[8:-1]],
     "2 of 16 images listed in"),  # the JPEG path, read by DataLoader workers
    ("miniplaces.cache", ["{root}/toy_zeroed", *CACHE_CLI], "--rebuild`"),
    ("miniplaces.cache", ["{root}/toy_labels", *CACHE_CLI], "(some lie outside 0..1)"),
    ("miniplaces.cache", ["{root}/toy_cachefile", *CACHE_CLI], "move or delete that file"),
    ("miniplaces.cache", ["{root}/toy_truncated", *CACHE_CLI], "are truncated"),
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
    expected = expected.format(**places)
    if "--device" not in argv and module != "miniplaces.cache":
        argv += ["--device", "cpu"]
    main = importlib.import_module(module).main
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert exit_.value.code == 2, err[-2000:]
    assert len(lines) == 1 and "Traceback" not in err, err[-2000:]
    assert expected in lines[0], lines[0]
    assert "permission" not in lines[0]  # no case here is about permissions (a truncated file once said so)
    assert snapshot(world["victim"]) == world["before"]  # nothing of the other run changed
    assert snapshot(world["root"]) == world["all_before"]  # nor any other file of the cases
    if "--classifier" not in argv:  # autoencoders reads --classifier after training a stage, which its run keeps
        assert sorted(p.name for p in tmp_path.iterdir()) == []  # a failed start leaves no run directory


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
