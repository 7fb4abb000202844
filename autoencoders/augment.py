"""Batched, per-sample data augmentation on the training device (no per-image Python).

Every image in a batch draws its own crop, flip, affine and colour-jitter parameters as
(B,)-shaped tensors; geometry is applied in one ``F.affine_grid``/``F.grid_sample`` call
with a (B, 2, 3) matrix per image, colour as broadcast tensor arithmetic.  That is
SimCLR's recipe (random resized crop, flip, colour jitter, random grayscale) without
the public-solution bug of cropping the whole batch the same way.

Inputs and outputs are float images in [0, 1], shape (B, C, H, W); normalisation
happens afterwards (see :class:`autoencoders.data.Normalizer`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def _uniform(b: int, lo: float, hi: float, device) -> torch.Tensor:
    return torch.empty(b, device=device).uniform_(lo, hi)


def resized_crop_theta(b: int, device, scale=(0.2, 1.0), ratio=(3 / 4, 4 / 3), flip: bool = True) -> torch.Tensor:
    """(B, 2, 3) affine matrices of RandomResizedCrop (+ horizontal flip) in grid coordinates.

    A crop covering fraction ``s`` of the area with aspect ``r`` has width sqrt(s r) and
    height sqrt(s / r) (fractions of the image); its centre is drawn so the crop stays
    inside the image.
    """
    area = _uniform(b, *scale, device)
    log_r = _uniform(b, math.log(ratio[0]), math.log(ratio[1]), device)
    w = (area * log_r.exp()).sqrt().clamp(max=1.0)
    h = (area / log_r.exp()).sqrt().clamp(max=1.0)
    cx = (torch.rand(b, device=device) * 2 - 1) * (1 - w)
    cy = (torch.rand(b, device=device) * 2 - 1) * (1 - h)
    sign = torch.where(torch.rand(b, device=device) < 0.5, -1.0, 1.0) if flip else torch.ones(b, device=device)
    theta = torch.zeros(b, 2, 3, device=device)
    theta[:, 0, 0], theta[:, 0, 2] = w * sign, cx
    theta[:, 1, 1], theta[:, 1, 2] = h, cy
    return theta


def affine_theta(b: int, device, degrees: float = 15.0, scale=(0.85, 1.1), translate: float = 0.1) -> torch.Tensor:
    """(B, 2, 3) matrices of a random rotation, zoom and shift (digits: no flips)."""
    angle = _uniform(b, -degrees, degrees, device) * (math.pi / 180)
    zoom = 1.0 / _uniform(b, *scale, device)  # sampling grid shrinks when the digit grows
    cos, sin = angle.cos() * zoom, angle.sin() * zoom
    theta = torch.stack([torch.stack([cos, -sin, _uniform(b, -2 * translate, 2 * translate, device)], 1),
                         torch.stack([sin, cos, _uniform(b, -2 * translate, 2 * translate, device)], 1)], 1)
    return theta  # (B, 2, 3)


def warp(images: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Resample every image through its own affine matrix (zeros outside, i.e. black)."""
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)  # (B, H, W, 2)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _gray(images: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma, (B, 1, H, W)."""
    weights = torch.tensor([0.299, 0.587, 0.114], device=images.device, dtype=images.dtype)
    return (images * weights.view(1, 3, 1, 1)).sum(dim=1, keepdim=True)


def _hue_matrices(shift: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) RGB matrices rotating hue by ``shift`` turns (a rotation of the YIQ chroma plane)."""
    to_yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]],
                          device=shift.device)
    angle = shift * 2 * math.pi
    rot = torch.zeros(len(shift), 3, 3, device=shift.device)
    rot[:, 0, 0] = 1
    rot[:, 1, 1], rot[:, 1, 2] = angle.cos(), -angle.sin()
    rot[:, 2, 1], rot[:, 2, 2] = angle.sin(), angle.cos()
    return torch.linalg.inv(to_yiq) @ rot @ to_yiq


def color_jitter(images: torch.Tensor, strength: float = 0.5, p: float = 0.8, gray_p: float = 0.2) -> torch.Tensor:
    """SimCLR colour distortion with per-image factors: brightness, contrast, saturation, hue, grayscale.

    ``strength`` s gives brightness/contrast/saturation factors in [1 - 0.8s, 1 + 0.8s]
    and hue shifts in [-0.2s, 0.2s], applied to a random fraction ``p`` of the images.
    """
    b, dev = images.shape[0], images.device
    apply = (torch.rand(b, 1, 1, 1, device=dev) < p).to(images.dtype)  # (B, 1, 1, 1) 0/1
    k = 0.8 * strength

    def factor():
        return 1 + apply * (_uniform(b, -k, k, dev).view(b, 1, 1, 1))

    out = images * factor()  # brightness
    mean = _gray(out).mean(dim=(2, 3), keepdim=True)  # (B, 1, 1, 1)
    out = (out - mean) * factor() + mean  # contrast
    gray = _gray(out)
    out = (out - gray) * factor() + gray  # saturation
    hue = _uniform(b, -0.2 * strength, 0.2 * strength, dev) * apply.view(b)
    out = torch.einsum("bij,bjhw->bihw", _hue_matrices(hue).to(out.dtype), out)
    to_gray = (torch.rand(b, 1, 1, 1, device=dev) < gray_p).to(out.dtype)
    out = to_gray * _gray(out).expand_as(out) + (1 - to_gray) * out
    return out.clamp(0, 1)


@dataclass
class ViewAugment:
    """One random view per image: crop+flip+colour for colour data, affine+crop for digits."""

    kind: str = "color"      # "color" (CIFAR-like) or "digits" (MNIST-like, 1 channel)
    crop_scale: float = 0.2  # smallest crop area fraction (SimCLR: 0.08; 0.2 suits 32x32)
    jitter: float = 0.5      # colour-jitter strength s

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        b, dev = images.shape[0], images.device
        if self.kind == "digits":
            theta = affine_theta(b, dev)
            crop = resized_crop_theta(b, dev, scale=(max(self.crop_scale, 0.5), 1.0), flip=False)
            # One resampling for both maps (no double blur): compose them as 3x3 homogeneous matrices.
            pad = torch.tensor([0.0, 0.0, 1.0], device=dev).expand(b, 1, 3)
            theta = (torch.cat([crop, pad], 1) @ torch.cat([theta, pad], 1))[:, :2]  # (B, 2, 3)
            return warp(images, theta).clamp(0, 1)
        views = warp(images, resized_crop_theta(b, dev, scale=(self.crop_scale, 1.0)))
        return color_jitter(views, self.jitter)


@dataclass
class LightAugment:
    """The supervised stages' augmentation: shift + flip for colour data, a mild affine for digits."""

    kind: str = "color"

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        b, dev = images.shape[0], images.device
        if self.kind == "digits":
            theta = affine_theta(b, dev, degrees=10.0, scale=(0.9, 1.1), translate=0.08)
        else:
            # Up to 4 px shift each way (1 px = 2 / W grid units at W = 32) and a horizontal flip.
            sign = torch.where(torch.rand(b, device=dev) < 0.5, -1.0, 1.0)
            theta = torch.zeros(b, 2, 3, device=dev)
            theta[:, 0, 0], theta[:, 1, 1] = sign, 1.0
            theta[:, :, 2] = torch.empty(b, 2, device=dev).uniform_(-0.25, 0.25)
        return warp(images, theta).clamp(0, 1)
