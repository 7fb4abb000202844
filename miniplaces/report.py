"""Report material computed from a trained model: PGD sweeps and per-iteration profiles.

* :func:`pgd_sweep` -> rows of clean vs attacked top-1/top-5 over a steps x epsilon grid,
  written as a PNG table and a markdown file by :func:`write_pgd_table`.
* :class:`ProfiledStep` wraps a step function to measure seconds per training
  iteration and the bytes autograd saves for backward in one forward pass.
"""
from __future__ import annotations

import statistics
import time

import torch
import torch.nn as nn

from common.attacks import eval_mode
from common.engine import move_to
from common.io import atomic_write_text
from common.meters import topk_correct
from common.plotting import markdown_table, plot_table

from .attack import PGDAttack

PGD_COLUMNS = ["steps", "epsilon", "step_size", "clean_acc1", "attacked_acc1", "clean_acc5", "attacked_acc5"]


def pgd_sweep(model: nn.Module, loader, device: torch.device, steps_list=(1, 5, 10),
              eps_list=(0.01, 0.03, 0.1), max_batches: int | None = None) -> list[dict]:
    """Clean vs attacked accuracy (%) for every (steps, epsilon); step size = 2.5 * eps / steps."""
    batches = [move_to(b, device) for i, b in enumerate(loader) if max_batches is None or i < max_batches]
    rows = []
    for steps in steps_list:
        for eps in eps_list:
            step_size = min(eps, 2.5 * eps / steps)  # Madry et al.'s rule of thumb, never beyond epsilon
            attacker = PGDAttack(nn.CrossEntropyLoss(), num_steps=steps, step_size=step_size, epsilon=eps)
            hits = {"clean_acc1": 0.0, "clean_acc5": 0.0, "attacked_acc1": 0.0, "attacked_acc5": 0.0}
            count = 0
            for images, targets in batches:
                adv = attacker.perturb(model, images)
                with torch.no_grad(), eval_mode(model):
                    for prefix, x in (("clean", images), ("attacked", adv)):
                        for k, v in topk_correct(model(x), targets, (1, 5)).items():
                            hits[f"{prefix}_{k}"] += float(v)
                count += len(targets)
            rows.append({"steps": steps, "epsilon": eps, "step_size": round(step_size, 5),
                         **{k: 100.0 * v / max(count, 1) for k, v in hits.items()}})
    return rows


def write_pgd_table(rows: list[dict], run, *, title: str, data: str) -> None:
    """PNG table + markdown (``pgd_table.md``) in the run directory."""
    caption = (f"Least-likely-target L-inf PGD, epsilon and step size in ImageNet-normalised units, "
               f"clamped to the normalised pixel box; data: {data}.")
    plot_table(rows, PGD_COLUMNS, run.figure_path("pgd_table"), title=title, caption=caption)
    atomic_write_text(run.path / "pgd_table.md", f"# {title}\n\n{caption}\n\n" + markdown_table(rows, PGD_COLUMNS))


class ProfiledStep:
    """Step-function wrapper: wall time between iterations and saved-for-backward bytes.

    The time between consecutive calls covers a whole iteration (data, forward,
    backward, optimizer); the median over a run ignores the gaps where validation ran.
    """

    def __init__(self, step_fn, device: torch.device):
        self.step_fn, self.device = step_fn, device
        self.stamps: list[float] = []
        self.saved_bytes: int | None = None

    def __call__(self, model, batch):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)  # time finished GPU work, not queued kernels
        self.stamps.append(time.perf_counter())
        if self.saved_bytes is not None:
            return self.step_fn(model, batch)
        seen: dict[tuple, int] = {}

        def pack(t: torch.Tensor):
            seen[(t.data_ptr(), t.dtype, tuple(t.shape))] = t.numel() * t.element_size()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = self.step_fn(model, batch)
        self.saved_bytes = sum(seen.values())
        return out

    def seconds_per_iter(self) -> float | None:
        diffs = [b - a for a, b in zip(self.stamps, self.stamps[1:])]
        return statistics.median(diffs) if diffs else None
