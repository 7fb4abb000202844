"""Image statistics and the conversions between pixel, unit and normalised space."""
from __future__ import annotations

import functools

import torch

from .device import device_constant, normalize_device, to_device_async

# ImageNet channel statistics (torchvision's pretrained models; MiniPlaces normalises with them too).
# miniplaces/student_code.py repeats them: the course imports that file alone from its own folder.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _per_channel(values, x: torch.Tensor) -> torch.Tensor:
    """(C,) sequence or tensor -> (1, C, 1, 1) on x's device and dtype (a sequence is copied there once)."""
    if isinstance(values, torch.Tensor):
        return torch.as_tensor(values, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return device_constant(values, x.device, x.dtype).view(1, -1, 1, 1)


def normalize(x: torch.Tensor, mean, std) -> torch.Tensor:
    """``(x - mean) / std`` per channel of ``(N, C, H, W)`` images."""
    return (x - _per_channel(mean, x)) / _per_channel(std, x)


def denormalize(x: torch.Tensor, mean, std) -> torch.Tensor:
    """Undo :func:`normalize`: ``x * std + mean`` per channel (not clamped)."""
    return x * _per_channel(std, x) + _per_channel(mean, x)


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 pixels 0..255 -> float32 in [0, 1]; float images are returned as float32 unchanged.

    A gather from the 256 levels divided once on the CPU: identical bits on every device (a GPU
    divides a tensor by the number 255 as a multiplication by 1/255, 1 ulp off for some levels).
    """
    if images.dtype != torch.uint8:
        return images.float()
    levels = _unit_levels(normalize_device(images.device))
    return levels.index_select(0, images.reshape(-1).int()).view(images.shape)


@functools.lru_cache(maxsize=8)
def _unit_levels(device: torch.device) -> torch.Tensor:
    return to_device_async(torch.arange(256).float().div_(255), device)  # (256,): level v -> v / 255
