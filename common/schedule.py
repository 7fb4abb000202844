"""Per-iteration learning-rate schedules: named factories of ``step -> LR factor``.

A :class:`Schedule` turns the run's ``(warmup_steps, total_steps)`` into ``factor(step)``,
the multiplier of every parameter group's peak LR at optimizer step ``step`` (0-based).
The engine takes one in :class:`common.engine.EngineConfig` (``schedule=``), steps it once
per iteration and records its name and parameters in every checkpoint, so a resume can
tell when the schedule changed.  Built in:

* :data:`WARMUP_COSINE` (the default): linear warmup, then cosine decay to zero.
* :data:`WARMUP_CONSTANT`: linear warmup, then the peak LR.

Your own, with the model (nanoGPT's ``get_lr``)::

    Schedule("step_decay", lambda warmup, total: lambda step: 0.1 ** (step // 1000), {"every": 1000})
    from_function("inverse_sqrt", lambda step: (step + 1) ** -0.5)   # ignores warmup/total
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch

FactorFn = Callable[[int], float]


@dataclass(frozen=True)
class Schedule:
    """``factory(warmup_steps, total_steps) -> factor(step)``, with a name and plain parameters for the checkpoint."""

    name: str
    factory: Callable[[int, int], FactorFn] = field(compare=False)
    params: dict = field(default_factory=dict, hash=False)

    def lambda_lr(self, optimizer: torch.optim.Optimizer, warmup_steps: int,
                  total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
        """The LambdaLR the engine steps once per iteration."""
        return torch.optim.lr_scheduler.LambdaLR(optimizer, self.factory(warmup_steps, total_steps))

    def record(self) -> dict:
        """What the checkpoint stores: ``{"name", "params"}`` (plain values)."""
        return {"name": self.name, "params": dict(self.params)}


def warmup_cosine_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    """LR multiplier at optimizer step ``step`` (0-based): (step + 1) / warmup, then cosine to 0.

    With no warmup the first step runs at the peak LR (the course's scheduler would stay at 0).
    """
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    decay = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def warmup_constant_factor(step: int, warmup_steps: int) -> float:
    """LR multiplier at optimizer step ``step``: (step + 1) / warmup, then 1."""
    return min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0


WARMUP_COSINE = Schedule("warmup_cosine", lambda warmup, total: lambda step: warmup_cosine_factor(step, warmup, total))
WARMUP_CONSTANT = Schedule("warmup_constant", lambda warmup, total: lambda step: warmup_constant_factor(step, warmup))


def from_function(name: str, factor: FactorFn, **params) -> Schedule:
    """A schedule from a plain ``step -> factor`` function (it sees neither warmup nor total steps)."""
    return Schedule(name, lambda warmup, total: factor, params)
