"""Training objectives for the functa classifier, as engine step functions.

* standard: cross-entropy (label smoothing) on vectors with small Gaussian noise in
  standardised units (a cheap augmentation: nearby vectors decode to nearby images).
* ``pgd`` (Madry et al., https://arxiv.org/abs/1706.06083): cross-entropy on 10-step
  L-inf PGD vectors.
* ``trades`` (Zhang et al., https://arxiv.org/abs/1901.08573): clean cross-entropy plus
  ``beta * KL(p(x) || p(x_adv))``, x_adv maximising that KL.

The training epsilon ramps up linearly over ``eps_warmup`` epochs (adversarial training
from scratch at full epsilon collapsed to chance in public solutions); warm-starting
from a standard model (``--init-from``) helps too.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from common.attacks import pgd
from common.engine import StepResult
from common.modules import unwrap  # attacks bypass DDP: its reducer would wait for parameter grads


def _noisy(model, x: torch.Tensor, noise: float) -> torch.Tensor:
    """Gaussian noise of ``noise`` standard deviations of each dimension (training only)."""
    if noise <= 0:
        return x
    std = unwrap(model).std
    return x + noise * std * torch.randn_like(x)


def standard_step(noise: float, label_smoothing: float):
    def step(model, batch) -> StepResult:
        x, y = batch
        logits = model(_noisy(model, x, noise))
        return StepResult(F.cross_entropy(logits, y, label_smoothing=label_smoothing), logits, y)

    return step


def adversarial_step(kind: str, eps_at: Callable[[], float], steps: int, alpha_ratio: float, beta: float,
                     label_smoothing: float):
    """Madry PGD-AT or TRADES; ``eps_at()`` gives the current (ramped) training epsilon."""

    def step(model, batch) -> StepResult:
        x, y = batch
        eps = eps_at()
        alpha = alpha_ratio * eps
        if kind == "pgd":
            x_adv = pgd(unwrap(model), x, y, epsilon=eps, step_size=alpha, steps=steps, random_start=True)
            logits = model(x_adv)
            return StepResult(F.cross_entropy(logits, y, label_smoothing=label_smoothing), logits, y)
        with torch.no_grad():
            p_clean = F.softmax(unwrap(model)(x), dim=1)
        kl = lambda logits, p: F.kl_div(F.log_softmax(logits, dim=1), p, reduction="sum")  # noqa: E731
        x_adv = pgd(unwrap(model), x, p_clean, epsilon=eps, step_size=alpha, steps=steps, loss_fn=kl,
                    random_start=True)
        # One forward for both halves: DDP allows a single forward per backward.
        logits, logits_adv = model(torch.cat([x, x_adv])).split(x.shape[0])  # (B, K) each
        robust = F.kl_div(F.log_softmax(logits_adv, dim=1), F.softmax(logits, dim=1), reduction="batchmean")
        return StepResult(F.cross_entropy(logits, y, label_smoothing=label_smoothing) + beta * robust, logits, y)

    return step


def robust_eval_step(eps: float, steps: int, alpha_ratio: float):
    """Validation: clean logits for acc1 plus ``acc_robust`` under a PGD attack at the target epsilon."""

    def step(model, batch) -> StepResult:
        x, y = batch
        logits = model(x)
        x_adv = pgd(unwrap(model), x, y, epsilon=eps, step_size=alpha_ratio * eps, steps=steps)
        robust = (model(x_adv).argmax(dim=1) == y).sum()
        return StepResult(F.cross_entropy(logits, y), logits, y, sums={"acc_robust": robust})

    return step


def ramp(clock: Callable[[], float], target: float, warmup_epochs: float) -> Callable[[], float]:
    """Epsilon now: linear from 0 to ``target`` over the first ``warmup_epochs`` of ``clock()``.

    ``clock`` is the engine's :attr:`Trainer.epochs_done` (from the scheduler's step
    counter, which a resumed run restores), so resume is exact.
    """

    def eps_at() -> float:
        if warmup_epochs <= 0:
            return target
        return target * min(1.0, max(clock() / warmup_epochs, 1e-3))

    return eps_at
