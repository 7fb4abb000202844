"""PGD for MiniPlaces (the course's ``PGDAttack``, from ``student_code.py``) and image helpers.

MiniPlaces inputs are ImageNet-normalised, so epsilon and the step size are in
normalised units and adversarial images are clamped to the *normalised image* of the
pixel box [0, 1], not to [0, 1] itself.
"""
from __future__ import annotations

import torch

from common.images import IMAGENET_MEAN, IMAGENET_STD, denormalize

from miniplaces.student_code import PGDAttack, default_attack, default_visfunction, vis_grid

__all__ = ["PGDAttack", "default_attack", "vis_grid", "default_visfunction", "to_pixels"]


def to_pixels(images: torch.Tensor) -> torch.Tensor:
    """Normalised ``(N, 3, H, W)`` -> pixels in [0, 1]."""
    return denormalize(images, IMAGENET_MEAN, IMAGENET_STD).clamp(0, 1)
