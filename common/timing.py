"""Timing and saved-activation memory, measured the same way in every benchmark.

    seconds = seconds_per_call(lambda: model(x).sum().backward(), device, steps=20, warmup=3)
    with SavedTensors() as saved:
        loss = model(x).sum()
    print(saved.bytes)      # distinct tensors autograd keeps for backward
"""
from __future__ import annotations

import time
from typing import Callable

import torch

from .device import synchronize


def seconds_per_call(fn: Callable[[], object], device: torch.device, *, steps: int = 1, warmup: int = 1) -> float:
    """Seconds per call of ``fn`` after ``warmup`` untimed calls, CUDA-synchronised at both ends
    (so finished GPU work is timed, not queued kernels)."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    synchronize(device)
    return (time.perf_counter() - t0) / steps


class SavedTensors:
    """Context manager counting the bytes of the distinct tensors autograd saves for backward."""

    def __init__(self):
        self._seen: dict[tuple, int] = {}
        self._hooks = None

    def _pack(self, t: torch.Tensor) -> torch.Tensor:
        self._seen[(t.data_ptr(), t.dtype, tuple(t.shape))] = t.numel() * t.element_size()
        return t

    @property
    def bytes(self) -> int:
        return sum(self._seen.values())

    def __enter__(self) -> "SavedTensors":
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hooks.__exit__(*exc)
