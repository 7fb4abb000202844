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

from common.modules import eval_mode
from common.engine import move_to
from common.io import atomic_write_text
from common.meters import topk_correct
from common.plotting import markdown_table, plot_table

from miniplaces.attack import PGDAttack

PGD_COLUMNS = ["steps", "epsilon", "step_size", "clean_acc1", "attacked_acc1", "clean_acc5", "attacked_acc5"]


def pgd_sweep(model: nn.Module, loader, device: torch.device, steps_list=(1, 5, 10),
              eps_list=(0.03, 0.1, 0.3), max_batches: int | None = None) -> list[dict]:
    """Clean vs attacked accuracy (%) for every (steps, epsilon); step size = min(eps, 2.5 * eps / steps).

    One pass over the data: each batch is attacked with every configuration.
    """
    configs = [(steps, eps, min(eps, 2.5 * eps / steps))  # Madry et al.'s rule of thumb, never beyond eps
               for steps in steps_list for eps in eps_list]
    hits = [dict.fromkeys(("clean_acc1", "clean_acc5", "attacked_acc1", "attacked_acc5"), 0.0) for _ in configs]
    count = 0
    for i, batch in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        images, targets = move_to(batch, device)[:2]
        with torch.no_grad(), eval_mode(model):
            clean = topk_correct(model(images), targets, (1, 5))
        for (steps, eps, step_size), tally in zip(configs, hits):
            attacker = PGDAttack(nn.CrossEntropyLoss(), num_steps=steps, step_size=step_size, epsilon=eps)
            adv = attacker.perturb(model, images)
            with torch.no_grad(), eval_mode(model):
                attacked = topk_correct(model(adv), targets, (1, 5))
            for k in ("acc1", "acc5"):
                tally[f"clean_{k}"] += float(clean[k])
                tally[f"attacked_{k}"] += float(attacked[k])
        count += len(targets)
    return [{"steps": steps, "epsilon": eps, "step_size": round(step_size, 5),
             **{k: 100.0 * v / max(count, 1) for k, v in tally.items()}}
            for (steps, eps, step_size), tally in zip(configs, hits)]


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
