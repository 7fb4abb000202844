"""L-infinity PGD on functa vectors: a batched epsilon sweep (the course's attack_classifier is in attack.py).

All attacks call :func:`common.attacks.pgd`, which takes per-sample epsilon and step
tensors: a sweep over E bounds stacks E copies of the data, each row carrying its own
bound, and attacks them in one pass instead of E.  Each of the ``steps`` iterations
moves the perturbation by a signed-gradient step and projects it back into the ball
(the course template silently ran one step; see DESIGN.md).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from common.attacks import pgd_bounds
from common.predict import predict

from functaset.defaults import DEFAULT_EPSILONS, DEFAULT_RATIOS  # noqa: F401 (re-exported)


def sweep(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epsilons: list[float], step_sizes: list[float], *,
          steps: int = 10, rows: int = 65536, device="cpu") -> dict:
    """Batched sweep over all bounds; ``rows`` caps E*chunk rows per pass (memory).

    Returns per-bound adversarial vectors ``x_adv (E, N, D)`` and correctness ``(E, N)``
    on the CPU, and ``clean_correct (N,)``.
    """
    eps_t, alpha_t = torch.tensor(epsilons), torch.tensor(step_sizes)
    chunk = max(1, rows // len(epsilons))
    advs, correct, clean = [], [], []
    for start in range(0, x.shape[0], chunk):
        xb, yb = x[start:start + chunk].to(device), y[start:start + chunk].to(device)
        x_adv = pgd_bounds(model, xb, yb, eps_t, alpha_t, steps=steps)  # (E, B, D)
        pred = predict(model, x_adv.flatten(0, 1)).view(len(epsilons), -1)  # (E, B)
        correct.append((pred == yb).cpu())
        clean.append((predict(model, xb) == yb).cpu())
        advs.append(x_adv.cpu())
    return {"x_adv": torch.cat(advs, dim=1), "correct": torch.cat(correct, dim=1), "clean_correct": torch.cat(clean)}


def envelope(result: dict) -> dict:
    """Make robustness monotone in epsilon, legitimately.

    Bounds are sorted ascending; an adversarial point found for a smaller bound also lies
    in every larger ball, so a sample broken at bound i counts as broken at every j > i
    and keeps that point as its attack.  Returns the same keys, updated.
    """
    x_adv, correct = result["x_adv"].clone(), result["correct"].clone()
    for j in range(1, correct.shape[0]):
        inherit = correct[j] & ~correct[j - 1]  # broken before, not at j
        x_adv[j, inherit] = x_adv[j - 1, inherit]
        correct[j] &= correct[j - 1]
    return {**result, "x_adv": x_adv, "correct": correct}


def accuracy(correct: torch.Tensor) -> list[float]:
    """Percent correct per bound from an ``(E, N)`` mask."""
    return (100.0 * correct.float().mean(dim=1)).tolist()


def choose_step_sizes(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epsilons: list[float], *,
                      ratios=DEFAULT_RATIOS, steps: int = 10, rows: int = 65536, device="cpu"):
    """Grid search: for each bound, the step size (ratio x epsilon) with the lowest accuracy.

    Run on a selection split (validation), never on the test data it is reported on.
    Returns (chosen step sizes, {ratio: [accuracy per bound]}).
    """
    grid = {}
    for ratio in ratios:
        res = sweep(model, x, y, epsilons, [ratio * e for e in epsilons], steps=steps, rows=rows, device=device)
        grid[ratio] = accuracy(res["correct"])
    best = [min(ratios, key=lambda r: (grid[r][k], abs(r - 0.25))) for k in range(len(epsilons))]
    return [r * e for r, e in zip(best, epsilons)], grid


def pick_cm_index(acc_by_bound: list[float], low: float = 20.0, high: float = 80.0) -> tuple[int, bool]:
    """Index of the bound whose accuracy is closest to 50%, preferring the 20-80% band."""
    inside = [k for k, a in enumerate(acc_by_bound) if low <= a <= high]
    candidates = inside or range(len(acc_by_bound))
    return min(candidates, key=lambda k: abs(acc_by_bound[k] - 50.0)), bool(inside)
