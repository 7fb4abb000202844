"""Report material computed from a trained model: PGD sweeps and per-iteration profiles.

* :func:`pgd_sweep` -> rows of clean vs attacked top-1/top-5 over a steps x epsilon grid,
  written as a PNG table, a markdown file and JSON by :func:`write_pgd_table`.
* :class:`ProfiledStep` wraps a step function to measure seconds per training
  iteration and the bytes autograd saves for backward in one forward pass.
"""
from __future__ import annotations

import statistics
import time

import torch
import torch.nn as nn

from common.attacks import normalized_box, pgd_bounds
from common.engine import move_to
from common.images import IMAGENET_MEAN, IMAGENET_STD
from common.io import atomic_write_json, atomic_write_text
from common.meters import topk_correct
from common.modules import eval_mode
from common.plotting import markdown_table, plot_table
from common.timing import SavedTensors


PGD_COLUMNS = ["steps", "epsilon", "step_size", "clean_acc1", "attacked_acc1", "clean_acc5", "attacked_acc5"]


def pgd_sweep(model: nn.Module, loader, device: torch.device, steps_list=(1, 5, 10),
              eps_list=(0.03, 0.1, 0.3), max_batches: int | None = None) -> list[dict]:
    """Clean vs attacked accuracy (%) for every (steps, epsilon); step size = min(eps, 2.5 * eps / steps).

    One pass over the data; per batch, all epsilons of one step count are attacked in one batched
    call (:func:`common.attacks.pgd_bounds`) with the handout's least-likely target and normalised pixel box
    (:class:`miniplaces.attack.LeastLikelyPGD`).
    """
    configs = [(steps, eps, min(eps, 2.5 * eps / steps))  # Madry et al.'s rule of thumb, never beyond eps
               for steps in steps_list for eps in eps_list]
    hits = [dict.fromkeys(("clean_acc1", "clean_acc5", "attacked_acc1", "attacked_acc5"), 0.0) for _ in configs]
    count = 0
    for i, batch in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        images, targets = move_to(batch, device)[:2]
        lower, upper = normalized_box(IMAGENET_MEAN, IMAGENET_STD, device=images.device, dtype=images.dtype)
        with torch.no_grad(), eval_mode(model):
            clean = topk_correct(model(images), targets, (1, 5))
        for steps in steps_list:
            chosen = [(c, tally) for c, tally in zip(configs, hits) if c[0] == steps]
            adv = pgd_bounds(model, images, None, torch.tensor([c[1] for c, _ in chosen]),
                             torch.tensor([c[2] for c, _ in chosen]), steps=steps, mode="least_likely",
                             lower=lower, upper=upper)  # (E, B, 3, H, W)
            for adv_e, (_, tally) in zip(adv, chosen):
                with torch.no_grad(), eval_mode(model):
                    attacked = topk_correct(model(adv_e), targets, (1, 5))
                for k in ("acc1", "acc5"):
                    tally[f"clean_{k}"] += float(clean[k])
                    tally[f"attacked_{k}"] += float(attacked[k])
        count += len(targets)
    return [{"steps": steps, "epsilon": eps, "step_size": round(step_size, 5),
             **{k: 100.0 * v / max(count, 1) for k, v in tally.items()}}
            for (steps, eps, step_size), tally in zip(configs, hits)]


def write_pgd_table(rows: list[dict], run, *, title: str, data: str) -> None:
    """PNG table, markdown (``pgd_table.md``) and the rows as JSON (``pgd_table.json``) in the run directory."""
    caption = (f"Least-likely-target L-inf PGD, epsilon and step size in ImageNet-normalised units, "
               f"clamped to the normalised pixel box; data: {data}.")
    plot_table(rows, PGD_COLUMNS, run.figure_path("pgd_table"), title=title, caption=caption)
    atomic_write_text(run.path / "pgd_table.md", f"# {title}\n\n{caption}\n\n" + markdown_table(rows, PGD_COLUMNS))
    atomic_write_json(run.path / "pgd_table.json", {"title": title, "caption": caption, "rows": rows})


class ProfiledStep:
    """Step-function wrapper: time between iterations and saved-for-backward bytes.

    The time between consecutive calls covers a whole iteration (data, forward,
    backward, optimizer); the median over a run ignores the gaps where validation ran.
    On CUDA each call records an event on the stream instead of reading a clock after a
    ``synchronize`` (which would make the host wait for the GPU every step): the gaps
    between events are the GPU's iteration times, read once, in :meth:`seconds_per_iter`.
    """

    def __init__(self, step_fn, device: torch.device):
        self.step_fn, self.device = step_fn, device
        self.stamps: list = []  # perf_counter seconds, or CUDA events
        self.saved_bytes: int | None = None

    def __call__(self, model, batch):
        if self.device.type == "cuda":
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            self.stamps.append(event)
        else:
            self.stamps.append(time.perf_counter())
        if self.saved_bytes is not None:
            return self.step_fn(model, batch)
        with SavedTensors() as saved:
            out = self.step_fn(model, batch)
        self.saved_bytes = saved.bytes
        return out

    def seconds_per_iter(self) -> float | None:
        if self.device.type == "cuda" and self.stamps:
            self.stamps[-1].synchronize()  # once, after training: every event has happened
            diffs = [a.elapsed_time(b) / 1000 for a, b in zip(self.stamps, self.stamps[1:])]
        else:
            diffs = [b - a for a, b in zip(self.stamps, self.stamps[1:])]
        return statistics.median(diffs) if diffs else None
