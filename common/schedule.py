"""Per-iteration learning-rate schedule: linear warmup, then cosine decay to zero."""
from __future__ import annotations

import math

import torch


def warmup_cosine_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    """LR multiplier at optimizer step ``step`` (0-based)."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    decay = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def warmup_cosine(optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int,
                  constant: bool = False) -> torch.optim.lr_scheduler.LambdaLR:
    """LambdaLR stepped once per iteration. ``constant=True`` keeps the base LR after warmup."""

    def factor(step: int) -> float:
        if constant:
            return min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0
        return warmup_cosine_factor(step, warmup_steps, total_steps)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
