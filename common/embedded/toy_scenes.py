"""Procedurally generated colour scenes whose class is learnable (offline stand-in data).

Each class fixes a shape (8 kinds), a foreground hue and a background hue; every
image then draws its own position, scale, brightness, a distractor blob and pixel
noise, so a classifier has to learn shape *and* colour rather than memorise pixels.
Deterministic by ``(seed, split, index)``; any image size and class count.

Served two ways: MiniPlaces folder format (see ``miniplaces.toy_data``) and CIFAR
format (:class:`ToyCIFAR`, 3x32x32 PIL images + ``.data``/``.targets``).
"""
from __future__ import annotations

import colorsys
import math

import numpy as np
from torch.utils.data import Dataset

LABEL = "toy scenes (procedurally generated, offline; not MiniPlaces/CIFAR-10)"
SHAPES = ("disc", "square", "triangle", "ring", "h-stripes", "v-stripes", "checker", "diagonal")
HUE_NAMES = ("red", "orange", "yellow", "lime", "green", "teal", "cyan", "azure", "blue", "violet",
             "magenta", "pink", "crimson")
SPLIT_OFFSET = {"train": 0, "val": 1, "test": 2}


def class_spec(label: int, num_classes: int) -> tuple[int, float, float]:
    """(shape index, foreground hue, background hue) of a class; distinct for every class."""
    groups = math.ceil(num_classes / len(SHAPES))
    shape, group = label % len(SHAPES), label // len(SHAPES)
    fg_hue = (group / groups + 0.37 * shape / len(SHAPES)) % 1.0
    bg_hue = (fg_hue + 0.5) % 1.0
    return shape, fg_hue, bg_hue


def class_names(num_classes: int) -> list[str]:
    names = []
    for c in range(num_classes):
        shape, hue, _ = class_spec(c, num_classes)
        names.append(f"{HUE_NAMES[int(round(hue * len(HUE_NAMES))) % len(HUE_NAMES)]} {SHAPES[shape]} #{c}")
    return names


def _rgb(hue: float, sat: float, val: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(hue % 1.0, sat, val), dtype=np.float32)


def _shape_mask(shape: int, yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, r: float,
                period: float) -> np.ndarray:
    """Boolean mask of the class shape centred at (cy, cx) with radius r (unit square coords)."""
    dy, dx = yy - cy, xx - cx
    inside = np.maximum(np.abs(dy), np.abs(dx)) < r
    if shape == 0:
        return dy ** 2 + dx ** 2 < r ** 2
    if shape == 1:
        return inside
    if shape == 2:
        return (dy < r * 0.8) & (dy > -r) & (np.abs(dx) < (dy + r) * 0.6)
    if shape == 3:
        d2 = dy ** 2 + dx ** 2
        return (d2 < r ** 2) & (d2 > (0.55 * r) ** 2)
    if shape == 4:
        return inside & (np.floor(dy / period) % 2 == 0)
    if shape == 5:
        return inside & (np.floor(dx / period) % 2 == 0)
    if shape == 6:
        return inside & ((np.floor(dy / period) + np.floor(dx / period)) % 2 == 0)
    return inside & (np.floor((dx + dy) / period) % 2 == 0)


def render(label: int, num_classes: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """One (size, size, 3) uint8 image of class ``label``."""
    shape, fg_hue, bg_hue = class_spec(label, num_classes)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    # Background: a vertical gradient in the class background hue.
    top = _rgb(bg_hue + rng.normal(0, 0.02), 0.35 + 0.2 * rng.random(), 0.55 + 0.35 * rng.random())
    bottom = top * (0.6 + 0.3 * rng.random())
    img = top[None, None] * (1 - yy[..., None]) + bottom[None, None] * yy[..., None]
    # A distractor blob of random colour, so colour statistics alone are not enough.
    by, bx = rng.random(2)
    blob = (yy - by) ** 2 + (xx - bx) ** 2 < (0.08 + 0.08 * rng.random()) ** 2
    img[blob] = _rgb(rng.random(), 0.7, 0.9)
    # The class shape.
    r = 0.18 + 0.14 * rng.random()
    cy, cx = rng.uniform(r, 1 - r, size=2)
    mask = _shape_mask(shape, yy, xx, cy, cx, r, period=0.05 + 0.04 * rng.random())
    img[mask] = _rgb(fg_hue + rng.normal(0, 0.015), 0.75 + 0.2 * rng.random(), 0.6 + 0.4 * rng.random())
    img = img + rng.normal(0, 0.06, img.shape).astype(np.float32)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def generate(num_classes: int, per_class: int, size: int, seed: int = 0, split: str = "train"):
    """(images uint8 (N, size, size, 3), labels int64 (N,)), class-interleaved order."""
    rng = np.random.default_rng([seed, SPLIT_OFFSET.get(split, 3), num_classes, size])
    labels = np.tile(np.arange(num_classes), per_class).astype(np.int64)
    images = np.stack([render(int(c), num_classes, size, rng) for c in labels]) if len(labels) else \
        np.zeros((0, size, size, 3), np.uint8)
    return images, labels


class ToyCIFAR(Dataset):
    """CIFAR-format toy scenes: ``.data`` uint8 (N, 32, 32, 3), ``.targets`` list, PIL items."""

    label = LABEL

    def __init__(self, split: str = "train", transform=None, *, num_classes: int = 10,
                 per_class: int | None = None, size: int = 32, seed: int = 0):
        default = {"train": 300, "val": 60, "test": 100}
        self.data, targets = generate(num_classes, per_class or default.get(split, 100), size, seed, split)
        self.targets = targets.tolist()
        self.classes = class_names(num_classes)
        self.transform, self.split = transform, split

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, idx: int):
        from PIL import Image

        img = Image.fromarray(self.data[idx])
        return (self.transform(img) if self.transform else img), self.targets[idx]
