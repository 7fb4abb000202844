"""The course's PGD attack (least-likely target) and its visualisation helpers.

MiniPlaces inputs are ImageNet-normalised, so epsilon and the step size are in
normalised units and the adversarial image is clamped to the *normalised image* of
the pixel box [0, 1] (``common.attacks.normalized_box``), not to [0, 1] itself.
"""
from __future__ import annotations

import torch
import torch.nn as nn
from torchvision.utils import make_grid

from common.attacks import normalized_box, pgd
from common.images import IMAGENET_MEAN, IMAGENET_STD, denormalize



class PGDAttack:
    """L-inf PGD that pushes each input toward the label its clean prediction is least sure of.

    Each step *decreases* ``loss_fn(model(x_adv), least_likely)``:
    ``x_adv <- clip(x_adv - step_size * sign(grad))`` (Madry et al. 2018,
    https://arxiv.org/abs/1706.06083).  The model's ``.grad`` is never touched and its
    train/eval state is restored.

    Example::

        attacker = PGDAttack(nn.CrossEntropyLoss(), num_steps=10, step_size=0.01, epsilon=0.1)
        adv = attacker.perturb(model, images)   # images (N, 3, H, W), normalised
    """

    def __init__(self, loss_fn, num_steps=10, step_size=0.01, epsilon=0.1):
        self.loss_fn = loss_fn
        self.num_steps = num_steps
        self.step_size = step_size
        self.epsilon = epsilon

    def perturb(self, model: nn.Module, input: torch.Tensor) -> torch.Tensor:  # noqa: A002 (course name)
        """Adversarial version of ``input`` (same shape, detached), within epsilon in L-inf."""
        lower, upper = normalized_box(IMAGENET_MEAN, IMAGENET_STD, device=input.device, dtype=input.dtype)
        return pgd(model, input, epsilon=self.epsilon, step_size=self.step_size, steps=self.num_steps,
                   mode="least_likely", loss_fn=self.loss_fn, lower=lower, upper=upper)

    def __repr__(self) -> str:
        return (f"PGDAttack(num_steps={self.num_steps}, step_size={self.step_size}, "
                f"epsilon={self.epsilon}, target=least-likely)")


def default_attack(loss_fn, num_steps=10, step_size=0.01, epsilon=0.1):
    """The handout's default attack: 10 steps of 0.01, epsilon 0.1 (normalised units)."""
    return PGDAttack(loss_fn, num_steps=num_steps, step_size=step_size, epsilon=epsilon)


def to_pixels(images: torch.Tensor) -> torch.Tensor:
    """Normalised ``(N, 3, H, W)`` -> pixels in [0, 1]."""
    return denormalize(images, IMAGENET_MEAN, IMAGENET_STD).clamp(0, 1)


def vis_grid(input, n_rows=10):  # noqa: A002 (course name)
    """Normalised images ``(N, 3, H, W)`` -> one ``(3, H', W')`` grid in [0, 1] for TensorBoard."""
    return make_grid(to_pixels(input.detach().float().cpu()), nrow=n_rows, padding=2)


default_visfunction = vis_grid
