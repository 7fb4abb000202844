"""The course's image transforms on OpenCV/NumPy images (``(H, W, 3)`` uint8, RGB).

Train: resize 144, horizontal flip, colour jitter 0.15, rotation 15 degrees,
random-resized crop 128, ImageNet normalisation.  Val: resize 144, centre crop 128.
Randomness comes from Python's ``random`` module, which the engine seeds per run and
per DataLoader worker.
"""
from __future__ import annotations

import math
import random

import cv2
import numpy as np
import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        return "Compose(" + ", ".join(type(t).__name__ for t in self.transforms) + ")"


class Scale:
    """Resize so the shorter side is ``size`` (aspect ratio kept)."""

    def __init__(self, size: int, interpolation=cv2.INTER_LINEAR):
        self.size, self.interpolation = size, interpolation

    def __call__(self, img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        if min(h, w) == self.size:
            return img
        scale = self.size / min(h, w)
        new_w, new_h = max(self.size, round(w * scale)), max(self.size, round(h * scale))
        return cv2.resize(img, (new_w, new_h), interpolation=self.interpolation)


class RandomHorizontalFlip:
    def __call__(self, img: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(img[:, ::-1]) if random.random() < 0.5 else img


class RandomColor:
    """Scale each RGB channel by an independent factor in ``[1 - r, 1 + r]``."""

    def __init__(self, color_range: float = 0.15):
        self.color_range = color_range

    def __call__(self, img: np.ndarray) -> np.ndarray:
        factors = np.array([random.uniform(1 - self.color_range, 1 + self.color_range) for _ in range(3)],
                           dtype=np.float32)
        return np.clip(img.astype(np.float32) * factors, 0, 255).astype(np.uint8)


class RandomRotate:
    """Rotate by a uniform angle in ``[-degree, degree]`` about the centre (edges replicated)."""

    def __init__(self, degree: float = 15):
        self.degree = degree

    def __call__(self, img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), random.uniform(-self.degree, self.degree), 1.0)
        return cv2.warpAffine(img, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


class RandomSizedCrop:
    """Inception-style crop: random area ``[0.25, 1]`` and aspect ``[3/4, 4/3]``, resized to ``size``."""

    def __init__(self, size: int, area_range=(0.25, 1.0), ratio_range=(3 / 4, 4 / 3)):
        self.size, self.area_range, self.ratio_range = size, area_range, ratio_range

    def __call__(self, img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        for _ in range(10):
            area = random.uniform(*self.area_range) * h * w
            ratio = math.exp(random.uniform(math.log(self.ratio_range[0]), math.log(self.ratio_range[1])))
            cw, ch = round(math.sqrt(area * ratio)), round(math.sqrt(area / ratio))
            if 0 < cw <= w and 0 < ch <= h:
                y, x = random.randint(0, h - ch), random.randint(0, w - cw)
                return cv2.resize(img[y:y + ch, x:x + cw], (self.size, self.size), interpolation=cv2.INTER_LINEAR)
        return CenterCrop(self.size)(Scale(self.size)(img))  # fallback: centre crop


class CenterCrop:
    def __init__(self, size: int):
        self.size = size

    def __call__(self, img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        y, x = max(0, (h - self.size) // 2), max(0, (w - self.size) // 2)
        return img[y:y + self.size, x:x + self.size]


class ToTensor:
    """``(H, W, 3)`` uint8 -> ``(3, H, W)`` float32 in [0, 1]."""

    def __call__(self, img: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float().div_(255.0)


class Normalize:
    def __init__(self, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        self.mean = torch.tensor(mean).view(-1, 1, 1)
        self.std = torch.tensor(std).view(-1, 1, 1)

    def __call__(self, tensor: torch.Tensor) -> torch.Tensor:
        return (tensor - self.mean) / self.std


def get_train_transforms(size: int = 128, resize: int = 144) -> Compose:
    """The course training augmentation (``size``/``resize`` change only for toy runs)."""
    return Compose([Scale(resize), RandomHorizontalFlip(), RandomColor(0.15), RandomRotate(15),
                    RandomSizedCrop(size), ToTensor(), Normalize()])


def get_val_transforms(size: int = 128, resize: int = 144) -> Compose:
    """The course evaluation transform: resize then centre crop."""
    return Compose([Scale(resize), CenterCrop(size), ToTensor(), Normalize()])
