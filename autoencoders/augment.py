"""The autoencoders' augmentation recipes, built on the shared batched primitives in
:mod:`common.augment` (per-sample parameters, one ``grid_sample`` per batch).

:class:`ViewAugment` is SimCLR's recipe (random resized crop, flip, colour jitter, random
grayscale) for the contrastive stage; :class:`LightAugment` the supervised stages' shift +
flip (colour data) or mild affine (digits).  Inputs and outputs are float images in
[0, 1], shape (B, C, H, W); normalisation happens afterwards (see
:class:`autoencoders.data.Normalizer`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from common.augment import (_hue_matrices, affine_theta, color_jitter, homogeneous,  # noqa: F401 (re-exported)
                            resized_crop_theta, warp)


@dataclass
class ViewAugment:
    """One random view per image: crop+flip+colour for colour data, affine+crop for digits."""

    kind: str = "color"      # "color" (CIFAR-like) or "digits" (MNIST-like, 1 channel)
    crop_scale: float = 0.2  # smallest crop area fraction (SimCLR: 0.08; 0.2 suits 32x32)
    jitter: float = 0.5      # colour-jitter strength s

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        b, dev = images.shape[0], images.device
        if self.kind == "digits":
            theta = affine_theta(b, dev)
            crop = resized_crop_theta(b, dev, scale=(max(self.crop_scale, 0.5), 1.0), flip=False)
            # One resampling for both maps (no double blur): compose them as 3x3 homogeneous matrices.
            theta = (homogeneous(crop) @ homogeneous(theta))[:, :2]  # (B, 2, 3)
            return warp(images, theta).clamp(0, 1)
        views = warp(images, resized_crop_theta(b, dev, scale=(self.crop_scale, 1.0)))
        return color_jitter(views, self.jitter)


@dataclass
class LightAugment:
    """The supervised stages' augmentation: shift + flip for colour data, a mild affine for digits."""

    kind: str = "color"

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        b, dev = images.shape[0], images.device
        if self.kind == "digits":
            theta = affine_theta(b, dev, degrees=10.0, scale=(0.9, 1.1), translate=0.08)
        else:
            # Up to 4 px shift each way (1 px = 2 / W grid units at W = 32) and a horizontal flip.
            sign = torch.where(torch.rand(b, device=dev) < 0.5, -1.0, 1.0)
            theta = torch.zeros(b, 2, 3, device=dev)
            theta[:, 0, 0], theta[:, 1, 1] = sign, 1.0
            theta[:, :, 2] = torch.empty(b, 2, device=dev).uniform_(-0.25, 0.25)
        return warp(images, theta).clamp(0, 1)
