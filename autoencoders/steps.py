"""Step functions the engine calls per batch (see :mod:`common.engine`), and the batch transforms.

Batches come from :class:`common.data.DeviceBatches` already on the device:
``(x, y)`` for one view, ``(v1, v2, y)`` for the two contrastive views.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from common.engine import StepFn, StepResult

from autoencoders.losses import contrastive_logits, pixel_mae_sum, reconstruction_loss


def reconstruction_step(mean: torch.Tensor, std: torch.Tensor, loss_kind: str = "l1") -> StepFn:
    """Autoencoder step: reconstruction loss in normalised units, plus MAE in [0, 1] pixels as ``mae``."""

    def step(model: nn.Module, batch) -> StepResult:
        x = batch[0]
        recon = model(x).float()
        loss = reconstruction_loss(recon, x, loss_kind)
        return StepResult(loss, batch_size=x.shape[0], sums={"mae": pixel_mae_sum(recon.detach(), x, mean, std)})

    return step


def contrastive_step(temperature: float = 0.5) -> StepFn:
    """SimCLR step: both views in one forward pass, NT-Xent on the projections.

    The logits/targets handed back make the engine's ``acc1``/``acc5`` the rate at which
    an anchor's nearest neighbour (top-1/top-5) among the 2N - 1 others is its positive.
    """

    def step(model: nn.Module, batch) -> StepResult:
        v1, v2 = batch[0], batch[1]
        z1, z2 = model(torch.cat([v1, v2])).float().chunk(2)  # (2N, D) -> 2 x (N, D)
        logits, targets = contrastive_logits(z1, z2, temperature)
        return StepResult(F.cross_entropy(logits, targets), logits, targets, batch_size=2 * v1.shape[0])

    return step


def one_view(normalize, augment=None):
    """Batch transform: optionally augment a [0, 1] batch, then normalise it -> ``(x,)``."""

    def transform(x01: torch.Tensor):
        return (normalize(augment(x01) if augment is not None else x01),)

    return transform


def two_views(normalize, augment):
    """Batch transform: two independent augmentations of every image -> ``(v1, v2)``."""

    def transform(x01: torch.Tensor):
        return normalize(augment(x01)), normalize(augment(x01))

    return transform
