"""L-infinity PGD / FGSM for images ``(N, C, H, W)`` and vectors ``(N, D)``.

Madry et al., "Towards Deep Learning Models Resistant to Adversarial Attacks"
(https://arxiv.org/abs/1706.06083).  The step and the projection live here once: the
MiniPlaces ``-a``/``--adv-train`` attack (``miniplaces.attack.LeastLikelyPGD``), the functaset
sweep (``functaset.sweep``) and the AlexNet L1 attack's box projection
(``alexnet_rnn.adversarial``) use them.  The course-mandated copies that must stay
standalone (``student_code.PGDAttack``, ``functaset.attack.attack_classifier``) are tested
equal to :func:`pgd`.  One function serves every assignment:

* ``mode="untargeted"``: ascend the loss of the true labels ``y``.
* ``mode="targeted"``: descend the loss of the given targets ``y``.
* ``mode="least_likely"``: descend the loss of the label the clean model is *least*
  confident about (the MiniPlaces handout).  Descending means ``x - a*sign(g)``;
  stepping the other way is the bug five public solutions share.

``epsilon``/``step_size`` are floats or per-sample tensors of shape ``(N,)``, so a
sweep over several bounds runs as one batched pass.  ``lower``/``upper`` are optional
box bounds *in the model's input space* (scalars or per-channel tensors broadcastable
to ``x``, e.g. the normalised image of pixel values 0 and 1).

Gradients come from ``torch.autograd.grad`` (the model's ``.grad`` is never touched),
the model is evaluated in eval mode and its train/eval state restored afterwards, and
the result is detached.

Example::

    x_adv = pgd(model, x, y, epsilon=8/255, step_size=2/255, steps=10, lower=0.0, upper=1.0)
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from .device import device_constant
from .modules import eval_mode

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
MODES = ("untargeted", "targeted", "least_likely")


def _per_sample(value: float | torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Scalar or (N,) tensor -> tensor broadcastable against x: (N, 1, 1, ...)."""
    value = _on_device(value, x)
    if value.ndim == 0:
        return value
    if value.shape != (x.shape[0],):
        raise ValueError(f"per-sample value must have shape ({x.shape[0]},), got {tuple(value.shape)}")
    return value.view(-1, *([1] * (x.ndim - 1)))


def _as_bound(bound, x: torch.Tensor) -> torch.Tensor | None:
    if bound is None:
        return None
    return _on_device(bound, x)


def _on_device(value, x: torch.Tensor) -> torch.Tensor:
    """``value`` as a tensor of x's dtype on x's device; a Python number is filled in there (a tensor made
    from host data would be copied with a host sync, every PGD call of a training step)."""
    if isinstance(value, (int, float)):
        return torch.full((), value, dtype=x.dtype, device=x.device)
    return torch.as_tensor(value, dtype=x.dtype, device=x.device)


def least_likely_labels(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The label each input's clean prediction is least confident about."""
    with torch.no_grad(), eval_mode(model):
        return model(x).argmin(dim=1)


def project(x_adv: torch.Tensor, x: torch.Tensor, eps: float | torch.Tensor | None,
            lower=None, upper=None) -> torch.Tensor:
    """Project onto the L-inf ball of radius ``eps`` around x (``None``: no ball) intersected with
    the box [lower, upper] (scalars or tensors broadcastable to x; ``None``: unbounded)."""
    if eps is not None:
        x_adv = torch.max(torch.min(x_adv, x + eps), x - eps)
    lower, upper = _as_bound(lower, x_adv), _as_bound(upper, x_adv)
    if lower is not None:
        x_adv = torch.max(x_adv, lower)
    if upper is not None:
        x_adv = torch.min(x_adv, upper)
    return x_adv


def pgd(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor | None = None, *,
        epsilon: float | torch.Tensor, step_size: float | torch.Tensor, steps: int = 10,
        mode: str = "untargeted", loss_fn: LossFn | None = None, random_start: bool = False,
        lower=None, upper=None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Projected signed-gradient attack; returns the detached adversarial inputs.

    Args:
        model: maps ``x`` to logits ``(N, K)``.
        x: clean inputs ``(N, ...)``; not modified.
        y: true labels (untargeted) or targets (targeted), ``(N,)``; ignored for least_likely.
        epsilon, step_size: float or ``(N,)`` tensor, in the units of ``x``.
        steps: number of signed-gradient steps (1 with step_size=epsilon is FGSM).
        loss_fn: ``loss_fn(logits, labels) -> scalar``; defaults to summed cross-entropy
            (a sum, so each sample's gradient does not shrink with the batch size).
        random_start: start from a uniform point in the epsilon ball.
        lower, upper: box bounds in input space (scalar or broadcastable tensor).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "least_likely":
        y = least_likely_labels(model, x)
    elif y is None:
        raise ValueError(f"mode={mode!r} needs labels y")
    loss_fn = loss_fn or (lambda logits, labels: F.cross_entropy(logits, labels, reduction="sum"))
    # Untargeted attacks climb the loss; targeted/least-likely attacks descend it.
    direction = 1.0 if mode == "untargeted" else -1.0
    x = x.detach()
    eps, alpha = _per_sample(epsilon, x), _per_sample(step_size, x)
    lower, upper = _as_bound(lower, x), _as_bound(upper, x)

    x_adv = x.clone()
    if random_start:
        noise = torch.rand(x.shape, generator=generator, device=x.device if generator is None else "cpu")
        x_adv = x_adv + (noise.to(x.device, x.dtype, non_blocking=True) * 2 - 1) * eps
    x_adv = project(x_adv, x, eps, lower, upper)
    with eval_mode(model):
        for _ in range(steps):
            x_adv.requires_grad_(True)
            with torch.enable_grad():
                loss = loss_fn(model(x_adv), y)
                (grad,) = torch.autograd.grad(loss, x_adv)
            x_adv = project(x_adv.detach() + direction * alpha * grad.sign(), x, eps, lower, upper)
    return x_adv.detach()


def pgd_bounds(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor | None, epsilons: torch.Tensor,
               step_sizes: torch.Tensor, *, steps: int = 10, **kwargs) -> torch.Tensor:
    """Attack ``x (N, ...)`` at E bounds in one batched :func:`pgd` call; returns ``(E, N, ...)``.

    A sweep over bounds stacks E copies of the batch, copy k carrying bound k and step
    k as per-sample tensors: one pass of ``steps`` forward/backward instead of E.
    ``kwargs`` go to :func:`pgd` (mode, loss_fn, lower, upper, ...).
    """
    e, n = epsilons.numel(), x.shape[0]
    x_rep = x.repeat(e, *([1] * (x.ndim - 1)))  # (E*N, ...): block k holds every sample at bound k
    eps = epsilons.to(x).repeat_interleave(n)  # (E*N,)
    alpha = step_sizes.to(x).repeat_interleave(n)  # (E*N,)
    x_adv = pgd(model, x_rep, None if y is None else y.repeat(e), epsilon=eps, step_size=alpha, steps=steps,
                **kwargs)
    return x_adv.view(e, n, *x.shape[1:])


def fgsm(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor | None = None, *,
         epsilon: float | torch.Tensor, mode: str = "untargeted", **kwargs) -> torch.Tensor:
    """Fast Gradient Sign Method (Goodfellow et al., 2015): one PGD step of size epsilon."""
    return pgd(model, x, y, epsilon=epsilon, step_size=epsilon, steps=1, mode=mode, **kwargs)


def normalized_box(mean, std, device=None, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel (1, C, 1, 1) bounds of pixel range [0, 1] after ``(x - mean) / std``.

    MiniPlaces inputs are normalised; clamping them to [0, 1] would destroy the images
    and fake a strong attack.  This is the box to clamp to instead.
    """
    mean, std = (_constant(v, device, dtype).view(1, -1, 1, 1) for v in (mean, std))
    return (0 - mean) / std, (1 - mean) / std


def _constant(values, device, dtype) -> torch.Tensor:
    """Per-channel statistics on ``device``; Python sequences are copied there once (not per PGD step)."""
    if isinstance(values, torch.Tensor):
        return torch.as_tensor(values, dtype=dtype, device=device)
    return device_constant(values, device or "cpu", dtype)
