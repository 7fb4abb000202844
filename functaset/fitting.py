"""Batched Functa fitting: meta-learning the shared SIREN (stage 1) and per-image modulations (stage 2).

Every image ``i`` owns a modulation ``phi_i``.  Fitting a batch minimises
``sum_i mean_pixels((inr(phi_i) - x_i)^2)``: the sum makes ``d/d phi_i`` exactly the
gradient of image ``i``'s own mean loss, so a batch of B images takes the same SGD
steps as B one-image-at-a-time fits, only B times fewer kernel launches.
"""
from __future__ import annotations

import torch

from common.engine import StepResult
from common.images import to_unit
from common.modules import eval_mode, unwrap
from common.progress import progress


def per_image_mse(inr, phi: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Mean squared error of each reconstruction: ``(B, M), (B, H, W) -> (B,)``."""
    return (inr(phi) - images).pow(2).flatten(1).mean(dim=1)


def psnr(mse: torch.Tensor) -> torch.Tensor:
    """PSNR in dB for pixel values in [0, 1]."""
    return -10.0 * torch.log10(mse.clamp_min(1e-12))


def fit_modulations(inr, images: torch.Tensor, steps: int, lr: float, *, create_graph: bool = False,
                    init: torch.Tensor | None = None) -> torch.Tensor:
    """``steps`` SGD steps on each image's modulation from zero; returns ``(B, M)``.

    ``create_graph=True`` keeps the inner steps differentiable (second-order meta-learning);
    otherwise each step is detached and only the modulations are differentiated, never the
    SIREN's weights (``torch.autograd.grad`` w.r.t. ``phi`` alone).
    """
    phi = init if init is not None else images.new_zeros(images.shape[0], inr.modul_features)
    phi = phi if create_graph else phi.detach()
    for _ in range(steps):
        if not phi.requires_grad:
            phi.requires_grad_(True)
        with torch.enable_grad():
            loss = per_image_mse(inr, phi, images).sum()  # sum: each phi_i gets its own gradient
            (grad,) = torch.autograd.grad(loss, phi, create_graph=create_graph)
        phi = phi - lr * grad
        if not create_graph:
            phi = phi.detach()
    return phi


def fit_modulations_lbfgs(inr, images: torch.Tensor, steps: int, lr: float = 1.0) -> torch.Tensor:
    """L-BFGS on the summed per-image losses (separable objective; the line search is shared by the batch)."""
    phi = images.new_zeros(images.shape[0], inr.modul_features, requires_grad=True)
    opt = torch.optim.LBFGS([phi], lr=lr, max_iter=steps, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad(set_to_none=True)
        loss = per_image_mse(inr, phi, images).sum()
        (phi.grad,) = torch.autograd.grad(loss, phi)
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return phi.detach()


def make_meta_step(inner_steps: int, inner_lr: float, second_order: bool = False):
    """Engine step function for stage 1: inner fit of the modulations, outer loss on the SIREN.

    First-order (the default, as the reference does): the outer gradient is taken at the
    fitted modulations treated as constants.  The loss returned is the batch mean of the
    per-image losses; the engine back-propagates it, clips and steps Adam.
    """

    def step(model, batch) -> StepResult:
        images = batch[0]  # (B, H, W) in [0, 1]
        # Inner steps on the bare model: under DDP only the outer loss goes through the wrapper.
        phi = fit_modulations(unwrap(model), images, inner_steps, inner_lr, create_graph=second_order)
        per_image = per_image_mse(model, phi, images)  # (B,)
        return StepResult(per_image.mean(), batch_size=images.shape[0],
                          sums={"psnr": psnr(per_image.detach()).sum()})

    return step


@torch.no_grad()
def fit_dataset(inr, images: torch.Tensor, *, steps: int, lr: float, batch_size: int, device,
                optimizer: str = "sgd", desc: str = "fit", quiet: bool = False):
    """Fit every image's modulation; returns CPU ``(N, M)`` vectors and per-image PSNR ``(N,)``."""
    vectors, psnrs = [], []
    starts = range(0, images.shape[0], batch_size)
    with eval_mode(inr):
        for start in progress(starts, desc=desc, quiet=quiet, total=len(starts)):
            batch = to_unit(images[start:start + batch_size]).to(device)  # (B, H, W)
            if optimizer == "lbfgs":
                phi = fit_modulations_lbfgs(inr, batch, steps)
            else:
                phi = fit_modulations(inr, batch, steps, lr)
            psnrs.append(psnr(per_image_mse(inr, phi, batch)).cpu())
            vectors.append(phi.cpu())
    return torch.cat(vectors), torch.cat(psnrs)


def siren_flops_per_image(hidden: int, depth: int, pixels: int, modul: int, *, backward: bool = True) -> float:
    """Matmul FLOPs of one forward (+ input-gradient backward) of the modulated SIREN for one image."""
    forward = 2 * pixels * (2 * hidden + (depth - 1) * hidden * hidden + hidden) + 2 * modul * hidden * depth
    return float(forward * (2 if backward else 1))
