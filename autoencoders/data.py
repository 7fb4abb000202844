"""Datasets held as uint8 tensors on the training device, and batch iterators over them.

MNIST and CIFAR-10 come from torchvision (downloaded only with ``--download``); the
offline stand-ins are scikit-learn's digits in MNIST format and procedurally generated
toy scenes in CIFAR format.  A validation split is carved from the training set with a
fixed seed, so every run (and every ``--seed``) validates on the same images.

The whole dataset (CIFAR-10: 150 MB as uint8) lives on the device; batches come from
:class:`common.data.DeviceBatches`, which indexes them there, and are converted to float,
augmented and normalised there, removing a DataLoader's per-sample Python from the hot loop.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace

import torch

from common.errors import UserError

from autoencoders.defaults import DATASETS, default_data_path  # noqa: F401 (re-exported)

REAL_STATS = {  # canonical per-channel statistics of the training sets, in [0, 1] pixel units
    "mnist": ((0.1307,), (0.3081,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
VAL_SPLIT_SEED = 0  # fixed on purpose: --seed changes training, never which images validate


@dataclass
class ImageData:
    """A dataset's three splits as uint8 (N, C, H, W) images and int64 (N,) labels."""

    name: str
    label: str                    # what the numbers are measured on (goes into metrics.json)
    class_names: list[str]
    splits: dict[str, tuple[torch.Tensor, torch.Tensor]]
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()

    @property
    def kind(self) -> str:
        """'digits' for 1-channel MNIST-like data, 'color' for CIFAR-like data."""
        return "digits" if self.channels == 1 else "color"

    @property
    def channels(self) -> int:
        return self.splits["train"][0].shape[1]

    @property
    def size(self) -> int:
        return self.splits["train"][0].shape[-1]

    def head(self, train: int, other: int) -> "ImageData":
        """The first ``train`` training and ``other`` val/test images (tiny runs)."""
        splits = {k: (x[:train if k == "train" else other], y[:train if k == "train" else other])
                  for k, (x, y) in self.splits.items()}
        return replace(self, splits=splits)

    def to(self, device: torch.device) -> "ImageData":
        return replace(self, splits={k: (x.to(device), y.to(device)) for k, (x, y) in self.splits.items()})


def _carve_val(x: torch.Tensor, y: torch.Tensor, val_size: int):
    if not 0 < val_size < len(y):
        raise UserError(f"--val-size {val_size} must be between 1 and {len(y) - 1} (training set size - 1)")
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(VAL_SPLIT_SEED))
    val, train = order[:val_size].sort().values, order[val_size:].sort().values
    return {"train": (x[train], y[train]), "val": (x[val], y[val])}


def _torchvision(name: str, root: str, download: bool):
    import torchvision

    cls = torchvision.datasets.MNIST if name == "mnist" else torchvision.datasets.CIFAR10
    try:
        return cls(root, train=True, download=download), cls(root, train=False, download=download)
    except RuntimeError as err:
        detail = " ".join(str(err).split())[:240]  # torchvision's message spans lines; keep one
        folder = os.path.join(root, "cifar-10-batches-py" if name == "cifar10" else os.path.join("MNIST", "raw"))
        if download:
            problem = f"could not be downloaded into --data-path {root!r} ({detail})"
        elif os.path.isdir(folder) and os.listdir(folder):
            problem = (f"under --data-path {root!r} is incomplete or corrupted ({folder} fails torchvision's "
                       "file check); delete that folder and pass --download, or point --data-path at a good copy")
        else:
            problem = f"not found under --data-path {root!r}; pass --download to fetch it there"
        raise UserError(f"{cls.__name__} {problem}, or use --dataset digits / toy-cifar (embedded, offline)") from None
    except OSError as err:
        raise UserError(f"cannot read {cls.__name__} under --data-path {root!r}: {err}") from None


def _as_nchw(data) -> torch.Tensor:
    x = torch.as_tensor(data)
    return x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2).contiguous()  # (N, C, H, W)


def _channel_stats(x: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    xf = x.float().div(255)
    return tuple(xf.mean(dim=(0, 2, 3)).tolist()), tuple(xf.std(dim=(0, 2, 3)).tolist())


def load_dataset(name: str, data_path: str | None = None, *, download: bool = False, val_size: int = 5000,
                 toy_per_class: int | None = None) -> ImageData:
    """Load ``name`` (one of :data:`DATASETS`) as CPU uint8 tensors with train/val/test splits."""
    if name in ("mnist", "cifar10"):
        train, test = _torchvision(name, data_path or default_data_path(), download)
        y_train = torch.as_tensor(train.targets, dtype=torch.int64)
        splits = _carve_val(_as_nchw(train.data), y_train, val_size)
        splits["test"] = (_as_nchw(test.data), torch.as_tensor(test.targets, dtype=torch.int64))
        mean, std = REAL_STATS[name]
        label = ("MNIST" if name == "mnist" else "CIFAR-10") + f" (torchvision; val = {val_size} train images)"
        names = [str(d) for d in range(10)] if name == "mnist" else CIFAR10_CLASSES
        return ImageData(name, label, names, splits, mean, std)
    if name == "digits":
        from common.embedded.digits import LABEL, DigitsMNIST

        sets = {s: DigitsMNIST(s) for s in ("train", "val", "test")}
        splits = {s: (_as_nchw(d.data), d.targets.long()) for s, d in sets.items()}
        names = list(DigitsMNIST.classes)
    elif name == "toy-cifar":
        from common.embedded.toy_scenes import LABEL, ToyCIFAR

        per = {"train": toy_per_class, "val": toy_per_class and max(1, toy_per_class // 5),
               "test": toy_per_class and max(1, toy_per_class // 3)}
        sets = {s: ToyCIFAR(s, per_class=per[s]) for s in ("train", "val", "test")}
        splits = {s: (_as_nchw(d.data), torch.as_tensor(d.targets, dtype=torch.int64)) for s, d in sets.items()}
        names = sets["train"].classes
    else:
        raise UserError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    mean, std = _channel_stats(splits["train"][0])
    return ImageData(name, LABEL, names, splits, mean, std)


class Normalizer:
    """uint8 or [0, 1] float batch -> normalised float batch, per channel, on the batch's device."""

    def __init__(self, mean, std, device: torch.device):
        self.mean = torch.tensor(mean, dtype=torch.float32, device=device)
        self.std = torch.tensor(std, dtype=torch.float32, device=device)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean.view(1, -1, 1, 1)) / self.std.view(1, -1, 1, 1)


