"""Losses and per-sample metrics: SimCLR's NT-Xent, reconstruction error in pixel units.

``nt_xent_loss`` follows Chen et al., "A Simple Framework for Contrastive Learning of
Visual Representations" (2020), eq. (1): for 2N embeddings (two views of N images) the
anchor ``i`` is scored against its positive (the other view of the same image) and the
2N - 2 remaining embeddings as negatives; the anchor itself is excluded and the
positive appears once, in the numerator and the denominator, never among the negatives.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from common.images import denormalize


def contrastive_logits(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine-similarity logits (2N, 2N) with self-pairs masked to -inf, and positive indices (2N,).

    Row ``i`` holds anchor ``i``'s scores; ``targets[i]`` is the column of its positive, so
    ``cross_entropy(logits, targets)`` is NT-Xent and ``logits.argmax(1) == targets`` is
    positive-pair retrieval accuracy.
    """
    if z1.shape != z2.shape or z1.ndim != 2:
        raise ValueError(f"z1 and z2 must both be (N, D); got {tuple(z1.shape)} and {tuple(z2.shape)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    n = z1.shape[0]  # from the tensor, not the config: the last batch may be partial
    z = F.normalize(torch.cat([z1, z2]).float(), dim=1)  # (2N, D) unit vectors
    logits = z @ z.t() / temperature  # (2N, 2N)
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    # View 1 of image k sits at row k, view 2 at row N + k: each is the other's positive.
    targets = torch.cat([torch.arange(n, 2 * n, device=z.device), torch.arange(0, n, device=z.device)])
    return logits, targets


def nt_xent_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """SimCLR's normalised temperature-scaled cross-entropy, averaged over all 2N anchors.

    Args:
        z1, z2: (N, D) projections of two augmented views; row k of each is image k.
        temperature: the softmax temperature tau (SimCLR uses 0.1-1.0; 0.5 for CIFAR-10).
    Returns:
        scalar loss; about ln(2N - 1) for unrelated random embeddings.
    """
    logits, targets = contrastive_logits(z1, z2, temperature)
    return F.cross_entropy(logits, targets)


def pixel_mae_sum(recon: torch.Tensor, target: torch.Tensor, mean: torch.Tensor, std: torch.Tensor
                  ) -> torch.Tensor:
    """Sum over the batch of each image's mean absolute error in [0, 1] pixel units.

    Both tensors are in *normalised* units (what the network sees); they are mapped back
    to pixels first and the reconstruction is clamped to [0, 1], the range an image can
    take, so the number is comparable across datasets and losses (an MNIST std of 0.31
    would otherwise inflate it 3x).  Divide by N for the batch mean (the engine does).
    """
    recon_px = denormalize(recon.float(), mean, std).clamp(0, 1)
    target_px = denormalize(target.float(), mean, std)
    return (recon_px - target_px).abs().flatten(1).mean(dim=1).sum()


def reconstruction_loss(recon: torch.Tensor, target: torch.Tensor, kind: str = "l1") -> torch.Tensor:
    """Training loss of the autoencoder in normalised units: ``l1``, ``mse`` or ``smooth_l1``."""
    if kind == "l1":
        return F.l1_loss(recon, target)
    if kind == "mse":
        return F.mse_loss(recon, target)
    if kind == "smooth_l1":
        return F.smooth_l1_loss(recon, target, beta=0.1)
    raise ValueError(f"unknown reconstruction loss {kind!r}; use l1, mse or smooth_l1")
