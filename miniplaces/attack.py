"""PGD for MiniPlaces: the handout's attack on the engine's PGD, the course's ``PGDAttack``, image helpers.

:class:`LeastLikelyPGD` is what main.py's ``-a`` and ``--adv-train`` use: the handout's
attack (toward the least-likely label, L-inf ball, normalised pixel box) with the step and
projection of :func:`common.attacks.pgd`.  ``PGDAttack`` lives in ``student_code.py``, the
hand-in that must run without this repository, as the course's standalone copy of the same
attack (``tests/miniplaces/test_attack.py`` checks both give the same images).

MiniPlaces inputs are ImageNet-normalised, so epsilon and the step size are in
normalised units and adversarial images are clamped to the *normalised image* of the
pixel box [0, 1], not to [0, 1] itself.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from common.attacks import normalized_box, pgd
from common.images import IMAGENET_MEAN, IMAGENET_STD, denormalize

from miniplaces.student_code import PGDAttack, default_attack, default_visfunction, vis_grid

__all__ = ["LeastLikelyPGD", "PGDAttack", "default_attack", "vis_grid", "default_visfunction", "to_pixels"]


@dataclass(frozen=True)
class LeastLikelyPGD:
    """The handout's PGD with ``PGDAttack``'s parameters and interface (``perturb(model, images)``)."""

    num_steps: int = 10
    step_size: float = 0.01
    epsilon: float = 0.1

    def perturb(self, model: nn.Module, images: torch.Tensor) -> torch.Tensor:
        """Adversarial ``images (N, 3, H, W)`` (normalised): same shape, detached, within epsilon and the box."""
        lower, upper = normalized_box(IMAGENET_MEAN, IMAGENET_STD, device=images.device, dtype=images.dtype)
        # The mean loss of the course's default_attack(nn.CrossEntropyLoss()): the same signed steps, bit for bit.
        return pgd(model, images, epsilon=self.epsilon, step_size=self.step_size, steps=self.num_steps,
                   mode="least_likely", loss_fn=nn.functional.cross_entropy, lower=lower, upper=upper)

    def __repr__(self) -> str:  # the course's name for this attack, as metrics.json and the figures have it
        return (f"PGDAttack(num_steps={self.num_steps}, step_size={self.step_size}, epsilon={self.epsilon}, "
                "target=least-likely)")


def to_pixels(images: torch.Tensor) -> torch.Tensor:
    """Normalised ``(N, 3, H, W)`` -> pixels in [0, 1]."""
    return denormalize(images, IMAGENET_MEAN, IMAGENET_STD).clamp(0, 1)
