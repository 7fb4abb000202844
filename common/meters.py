"""Metric accumulation on the device: no host sync per step.

A :class:`MetricSums` keeps running *sums* as 0-d tensors on the training device and
only converts to Python floats in :meth:`MetricSums.averages`, which the engine calls
every ``print_freq`` steps and at the end of an epoch.
"""
from __future__ import annotations

import torch

from .distributed import all_reduce_sum


def topk_correct(logits: torch.Tensor, targets: torch.Tensor, topk=(1, 5)) -> dict[str, torch.Tensor]:
    """Number of samples whose target is among the top-k logits, per k (device tensors)."""
    maxk = min(max(topk), logits.shape[1])
    pred = logits.topk(maxk, dim=1).indices  # (N, maxk)
    hits = pred.eq(targets.view(-1, 1))  # (N, maxk)
    return {f"acc{k}": hits[:, :min(k, maxk)].any(dim=1).sum() for k in topk}


class MetricSums:
    """Running sums of per-sample quantities; ``acc*`` keys are reported in percent."""

    def __init__(self, device: torch.device):
        self.device = device
        self.sums: dict[str, torch.Tensor] = {}
        self.count = torch.zeros((), dtype=torch.float64, device=device)

    def add(self, n: int, **sums: torch.Tensor) -> None:
        self.count += n
        for key, value in sums.items():
            value = value.detach().to(torch.float64)
            self.sums[key] = self.sums[key] + value if key in self.sums else value.clone()

    def reduced(self) -> "MetricSums":
        """A copy summed across DDP ranks (a no-op in a single process)."""
        keys = sorted(self.sums)
        flat = torch.stack([self.count] + [self.sums[k] for k in keys]).clone()
        all_reduce_sum(flat)
        out = MetricSums(self.device)
        out.count = flat[0]
        out.sums = {k: flat[i + 1] for i, k in enumerate(keys)}
        return out

    def averages(self) -> dict[str, float]:
        count = max(self.count.item(), 1.0)
        avg = {k: v.item() / count for k, v in self.sums.items()}
        return {k: 100.0 * v if k.startswith("acc") else v for k, v in avg.items()}

    def state_dict(self) -> dict:
        return {"count": self.count.cpu(), "sums": {k: v.cpu() for k, v in self.sums.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.count = state["count"].to(self.device)
        self.sums = {k: v.to(self.device) for k, v in state["sums"].items()}
