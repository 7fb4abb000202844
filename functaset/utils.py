"""Functaset data: safe loading, validation, DataLoaders, decoding vectors to images.

A functaset split is a joblib/pickle file ``<name>_<split>.pkl`` holding a list of
``{'modul': float32[D], 'label': int}`` (the course: ``fmnist_{train,val,test}.pkl``,
D = 512, about 35k/5k/10k items) next to the SIREN checkpoint ``modSiren.pth``.
Files made by ``make_functaset`` also carry ``functaset.json`` saying what data they hold.
"""
from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from common.data import make_loader
from common.errors import UserError
from common.modules import eval_mode

from functaset.defaults import COURSE_PATH, LOCAL_PATH, default_data_path  # noqa: F401 (re-exported)
from functaset.safe_pickle import safe_load

FMNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                  "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
SPLITS = ("train", "val", "test")
SIREN_FILE = "modSiren.pth"
INFO_FILE = "functaset.json"


def set_random_seeds(seed: int = 0, device: str = "cuda:0") -> None:
    """The starter's seeding call (``set_random_seeds(0)`` in its classifier.py and attack.py).

    Seeds python, numpy and torch (every device) and sets ``PYTHONHASHSEED``; for any device
    but ``'cpu'`` it also makes cuDNN deterministic (no autotuning), as the starter does.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    os.environ["PYTHONHASHSEED"] = str(seed)
    if str(device) != "cpu":
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def split_path(data_dir, split: str, name: str = "fmnist") -> Path:
    return Path(data_dir) / f"{name}_{split}.pkl"


def detect_name(data_dir) -> str:
    """``fmnist`` if its train file exists, else the single ``<name>_train.pkl`` in the folder."""
    data_dir = Path(data_dir)
    if split_path(data_dir, "train").is_file():
        return "fmnist"
    names = sorted(p.name[: -len("_train.pkl")] for p in data_dir.glob("*_train.pkl"))
    if len(names) == 1:
        return names[0]
    if not data_dir.is_dir():
        raise UserError(f"functaset folder not found: {data_dir} (pass -p/--data-path; on the course server it "
                        f"is {COURSE_PATH}; offline, build one: python -m functaset.make_functaset --source digits "
                        f"--preset demo --out {LOCAL_PATH})")
    found = ", ".join(names) or "none"
    raise UserError(f"{data_dir}: expected fmnist_train.pkl or exactly one <name>_train.pkl (found: {found}); "
                    "pass --name to choose")


def validate_items(items, path, modul_dim: int | None = 512, num_classes: int = 10):
    """List of dicts -> (float32 (N, D) array, int64 (N,) array), or a UserError naming the problem."""
    if not isinstance(items, list) or not items:
        raise UserError(f"{path}: expected a non-empty list of {{'modul', 'label'}} dicts, got {type(items).__name__}")
    vectors, labels = [], []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or "modul" not in item or "label" not in item:
            raise UserError(f"{path}: item {i} is not a dict with keys 'modul' and 'label'")
        vec = np.asarray(item["modul"], dtype=np.float32).reshape(-1)
        if modul_dim is not None and vec.shape[0] != modul_dim:
            raise UserError(f"{path}: item {i} has a modulation of length {vec.shape[0]}, expected {modul_dim} "
                            "(wrong file, or pass the matching SIREN size)")
        label = item["label"]
        if isinstance(label, np.ndarray) and label.size == 1:
            label = label.reshape(()).item()
        if isinstance(label, (bool, np.bool_)) or not float(label).is_integer() or not 0 <= int(label) < num_classes:
            raise UserError(f"{path}: item {i} has label {label!r}; labels must be integers 0..{num_classes - 1}")
        vectors.append(vec)
        labels.append(int(label))
    vectors = np.stack(vectors)  # (N, D)
    if modul_dim is None and len({v.shape[0] for v in vectors}) != 1:
        raise UserError(f"{path}: modulation vectors have different lengths")
    if not np.isfinite(vectors).all():
        raise UserError(f"{path}: some modulation vectors contain NaN or inf")
    return vectors, np.asarray(labels, dtype=np.int64)


def resolve_split_file(data_dir, split: str, name: str | None = None) -> Path:
    """The ``.pkl`` of one split: ``data_dir`` is a functaset folder, or (as the course starter
    passes it) the path of the ``.pkl`` file itself."""
    if split not in SPLITS:
        raise UserError(f"mode/split must be one of {SPLITS}, got {split!r}")
    data_dir = Path(data_dir or default_data_path())
    if data_dir.suffix == ".pkl":
        if not data_dir.is_file():
            raise UserError(f"functaset file not found: {data_dir} (check the path to the .pkl file)")
        return data_dir
    path = split_path(data_dir, split, name or detect_name(data_dir))
    if not path.is_file():
        raise UserError(f"functaset file not found: {path} (check -p/--data-path and --name)")
    return path


def load_split(data_dir=None, split: str = "train", name: str | None = None,
               modul_dim: int | str | None = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    """Vectors ``(N, D)`` float32 and labels ``(N,)`` int64 of one split, loaded safely.

    ``data_dir``: a functaset folder or one split's ``.pkl`` file.  ``modul_dim="auto"``: the
    length recorded in the folder's ``functaset.json`` (512, the course's, without one).
    """
    path = resolve_split_file(data_dir, split, name)
    if modul_dim == "auto":
        modul_dim = (read_info(path.parent).get("config") or {}).get("modul_features", 512)
    vectors, labels = validate_items(safe_load(path), path, modul_dim)
    return torch.from_numpy(vectors), torch.from_numpy(labels)


def get_fmnist_functa(data_dir=None, batch_size: int = 256, mode: str = "train", num_workers: int = 0,
                      pin_memory: bool = False, *, name: str | None = None, seed: int = 0, dist_info=None,
                      device=None, modul_dim: int | str | None = "auto"):
    """DataLoader of ``(vector (B, D), label (B,))``; only the train split is shuffled.

    The course starter's call works unchanged:
    ``get_fmnist_functa(data_dir=f"{path}/fmnist_train.pkl", mode="train", batch_size=128, num_workers=2)``;
    a folder works too (the split's file is then ``<name>_<mode>.pkl`` in it).  ``pin_memory`` is
    accepted for the starter's signature; memory is pinned whenever ``device`` is CUDA.
    """
    vectors, labels = load_split(data_dir, mode, name, modul_dim)
    return make_loader(TensorDataset(vectors, labels), batch_size, train=mode == "train", seed=seed,
                       workers=num_workers, dist_info=dist_info, device=device)


def write_split(path, vectors, labels) -> Path:
    """Write a split in the course format (joblib, list of dicts), atomically."""
    import joblib

    from common.io import atomic_write

    vectors = np.asarray(vectors, dtype=np.float32)
    items = [{"modul": vectors[i].copy(), "label": int(labels[i])} for i in range(len(vectors))]
    return atomic_write(path, lambda tmp: joblib.dump(items, tmp))


def read_info(data_dir) -> dict:
    """The ``functaset.json`` of a folder made by make_functaset ({} for the course files)."""
    path = Path(data_dir) / INFO_FILE
    if not path.is_file():
        return {}
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def data_label(data_dir, name: str) -> str:
    """How results on this folder are labelled in captions and metrics: what the data is, never
    where it lies (a path names a machine's folder, not the data)."""
    info = read_info(data_dir)
    if info.get("data"):
        return f"functaset of {info['data']} built by make_functaset (preset {info.get('preset', 'custom')})"
    if name == "fmnist":
        return "course Fashion-MNIST functaset (fmnist_*.pkl)"
    return f"functaset files {name}_*.pkl in the course format"


def class_names(data_dir, num_classes: int = 10) -> list[str]:
    names = read_info(data_dir).get("class_names")
    return list(names) if names else (FMNIST_CLASSES if num_classes == 10 else [str(i) for i in range(num_classes)])


@torch.no_grad()
def vec_to_img(inr: torch.nn.Module, vec: torch.Tensor) -> torch.Tensor:
    """Decode ``(D,) -> (H, W)`` or ``(N, D) -> (N, H, W)`` on the SIREN's device, returned on the CPU.

    Works with our batched :class:`~functaset.SIREN.ModulatedSIREN` and with any module of the
    course's interface, which decodes one ``(D,)`` vector into ``(H*W, 1)`` pixel values (a
    batch is then decoded one vector at a time).
    """
    from functaset.SIREN import ModulatedSIREN

    device = next(inr.parameters()).device
    height, width = getattr(inr, "height", 28), getattr(inr, "width", 28)
    with eval_mode(inr):
        vec = vec.to(device, torch.float32)
        if isinstance(inr, ModulatedSIREN) or vec.ndim == 1:
            return inr(vec).reshape(*vec.shape[:-1], height, width).cpu()
        return torch.stack([inr(v).reshape(height, width) for v in vec]).cpu()  # (N, H, W)


def top_confusions(y_true: torch.Tensor, y_pred: torch.Tensor, names, k: int = 5) -> list[str]:
    """The ``k`` most frequent off-diagonal (true -> predicted) pairs, as readable strings."""
    n = len(names)
    counts = torch.bincount(y_true * n + y_pred, minlength=n * n).view(n, n)  # (true, pred)
    counts.fill_diagonal_(0)
    values, flat = counts.flatten().topk(min(k, n * n))
    return [f"{names[i // n]} -> {names[i % n]}: {v}" for v, i in zip(values.tolist(), flat.tolist()) if v > 0]
