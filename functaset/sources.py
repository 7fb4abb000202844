"""Image sources for make_functaset: Fashion-MNIST / MNIST (torchvision) or the embedded digits.

Each source yields uint8 images ``(N, 28, 28)`` and int64 labels per split.  torchvision
only has train/test; train is split (seeded) into the course's train/val sizes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from common.errors import UserError

from functaset.defaults import SERVER_ROOT, default_source_root  # noqa: F401 (re-exported)
from functaset.utils import FMNIST_CLASSES

LABELS = {"fmnist": "Fashion-MNIST (torchvision)", "mnist": "MNIST (torchvision)"}


def _torchvision(source: str, root, train: bool, download: bool):
    from torchvision import datasets

    cls = datasets.FashionMNIST if source == "fmnist" else datasets.MNIST
    try:
        return cls(str(root), train=train, download=download)
    except RuntimeError as err:
        raise UserError(f"{LABELS[source]} not found under {root} ({str(err).splitlines()[0]}); pass "
                        "--source-path to where it is, or --download to fetch it") from None


def load_source(source: str, root=None, *, download: bool = False, train_size: int | None = None,
                val_size: int = 5000, seed: int = 0) -> dict:
    """``{'train'|'val'|'test': (uint8 (N, 28, 28), int64 (N,)), 'data': label, 'class_names': [...]}``."""
    if source == "digits":
        from common.embedded.digits import CLASS_NAMES, LABEL, DigitsMNIST

        splits = {s: (DigitsMNIST(s).data, DigitsMNIST(s).targets) for s in ("train", "val", "test")}
        return {**splits, "data": LABEL, "class_names": list(CLASS_NAMES)}
    if source not in LABELS:
        raise UserError(f"--source must be fmnist, mnist or digits, got {source!r}")
    root = Path(root or default_source_root())
    train_set, test_set = _torchvision(source, root, True, download), _torchvision(source, root, False, download)
    order = torch.from_numpy(np.random.default_rng(seed).permutation(len(train_set.targets)))
    train_size = train_size or len(order) - val_size
    if train_size + val_size > len(order):
        raise UserError(f"--train-size {train_size} + --val-size {val_size} exceed the {len(order)} training images")
    tr, va = order[:train_size], order[train_size:train_size + val_size]
    names = FMNIST_CLASSES if source == "fmnist" else [str(d) for d in range(10)]
    return {"train": (train_set.data[tr], train_set.targets[tr]), "val": (train_set.data[va], train_set.targets[va]),
            "test": (test_set.data, test_set.targets), "data": LABELS[source], "class_names": names}


def limit(split: tuple[torch.Tensor, torch.Tensor], n: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` items of a split (all when n is None or larger)."""
    images, labels = split
    return (images, labels) if not n else (images[:n], labels[:n])
