"""Building blocks of the course ViT: patch embedding, windows, MLP, stochastic depth.

Window partitioning follows ViTDet / Segment Anything (Li et al. 2022,
https://arxiv.org/abs/2203.16527): the ``(B, H, W, C)`` token map is zero-padded to a
multiple of the window size, cut into ``(B * nW, ws, ws, C)`` windows, and put back
(padding cropped) after attention.
"""
from __future__ import annotations

import torch
import torch.nn as nn


def window_partition(x: torch.Tensor, window_size: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """``(B, H, W, C)`` -> windows ``(B * nW, ws, ws, C)`` and the padded size ``(Hp, Wp)``."""
    batch, height, width, channels = x.shape
    pad_h = (window_size - height % window_size) % window_size
    pad_w = (window_size - width % window_size) % window_size
    if pad_h or pad_w:
        x = nn.functional.pad(x, (0, 0, 0, pad_w, 0, pad_h))  # pads W then H; C untouched
    hp, wp = height + pad_h, width + pad_w
    x = x.view(batch, hp // window_size, window_size, wp // window_size, window_size, channels)
    windows = x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window_size, window_size, channels)  # (B*nW, ws, ws, C)
    return windows, (hp, wp)


def window_unpartition(windows: torch.Tensor, window_size: int, pad_hw: tuple[int, int],
                       hw: tuple[int, int]) -> torch.Tensor:
    """Inverse of :func:`window_partition`: windows -> ``(B, H, W, C)`` with the padding removed."""
    hp, wp = pad_hw
    height, width = hw
    batch = windows.shape[0] // ((hp // window_size) * (wp // window_size))
    x = windows.view(batch, hp // window_size, wp // window_size, window_size, window_size, -1)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(batch, hp, wp, -1)  # (B, Hp, Wp, C)
    return x[:, :height, :width, :].contiguous() if (hp, wp) != (height, width) else x


class DropPath(nn.Module):
    """Stochastic depth (Huang et al. 2016): drop a residual branch per sample while training."""

    def __init__(self, drop_prob: float = 0.0):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1.0 - self.drop_prob
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep  # rescale so the expectation matches evaluation

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob}"


class Mlp(nn.Module):
    """Two-layer feed-forward network of a transformer block."""

    def __init__(self, in_features: int, hidden_features: int, act_layer=nn.GELU):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = act_layer()
        self.fc2 = nn.Linear(hidden_features, in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class PatchEmbed(nn.Module):
    """Non-overlapping patches -> tokens: ``(B, C, H, W)`` -> ``(B, H/p, W/p, D)``."""

    def __init__(self, patch_size: int = 16, in_chans: int = 3, embed_dim: int = 192):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).permute(0, 2, 3, 1)  # (B, D, h, w) -> (B, h, w, D)
