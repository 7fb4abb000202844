"""scikit-learn's bundled handwritten digits (real data, 1,797 images) as an MNIST-format dataset.

The 8x8 images (values 0-16) are upsampled to 20x20 and centred in a 28x28 frame, as
MNIST centres its digits in a 20x20 box, and served with a fixed train/val/test split.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

LABEL = "sklearn digits (embedded, offline; not MNIST)"
CLASS_NAMES = [str(d) for d in range(10)]
SPLITS = {"train": 0.70, "val": 0.15, "test": 0.15}


def _load_all() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 digits as uint8 (N, 28, 28) and int64 labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    small = torch.from_numpy(digits.images.astype(np.float32) / 16.0).unsqueeze(1)  # (N, 1, 8, 8)
    big = torch.nn.functional.interpolate(small, size=(20, 20), mode="bilinear", align_corners=False)
    frame = torch.nn.functional.pad(big, (4, 4, 4, 4)).squeeze(1)  # (N, 28, 28)
    images = (frame.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return images, digits.target.astype(np.int64)


def split_indices(n: int, split: str, seed: int = 0) -> np.ndarray:
    """Fixed, seeded partition of range(n) into train/val/test."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
    order = np.random.default_rng(seed).permutation(n)
    n_train, n_val = int(SPLITS["train"] * n), int(SPLITS["val"] * n)
    bounds = {"train": (0, n_train), "val": (n_train, n_train + n_val), "test": (n_train + n_val, n)}
    lo, hi = bounds[split]
    return np.sort(order[lo:hi])


class DigitsMNIST(Dataset):
    """MNIST-like view of sklearn's digits: ``.data`` uint8 (N, 28, 28), ``.targets`` int64 (N,).

    Like torchvision's MNIST, items are ``(PIL image, label)`` passed through ``transform``;
    without a transform the image comes back as a float tensor (1, 28, 28) in [0, 1].
    """

    classes = CLASS_NAMES
    label = LABEL

    def __init__(self, split: str = "train", transform=None, seed: int = 0):
        images, labels = _load_all()
        keep = split_indices(len(images), split, seed)
        self.data = torch.from_numpy(images[keep])
        self.targets = torch.from_numpy(labels[keep])
        self.transform, self.split = transform, split

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, idx: int):
        img, label = self.data[idx], int(self.targets[idx])
        if self.transform is None:
            return img.float().div(255).unsqueeze(0), label
        return self.transform(Image.fromarray(img.numpy(), mode="L")), label
