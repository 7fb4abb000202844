"""The course's ``custom_transforms`` names for image augmentation (OpenCV ``(H, W, 3)`` uint8 RGB).

The implementations live in ``student_code.py`` (the handed-in file must run without
this repository); this module re-exports them under the course helper's public names
and signatures (``Scale``, ``RandomSizedCrop`` and ``RandomRotate`` draw the
interpolation per image from nearest/bilinear/bicubic, as the course's do), and adds
:class:`ResizeTensor` for quick toy runs below the course's 128x128.
Randomness comes from Python's ``random`` module, which the engine seeds per run and
per DataLoader worker.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from miniplaces.student_code import (IMAGENET_MEAN, IMAGENET_STD, INTERPOLATIONS, CenterCrop, Compose, Denormalize,
                                     Normalize, RandomColor, RandomHorizontalFlip, RandomRotate, RandomSizedCrop,
                                     Scale, ToTensor, get_train_transforms, get_val_transforms, resize_image)

__all__ = ["Compose", "RandomHorizontalFlip", "Scale", "CenterCrop", "RandomSizedCrop", "RandomColor",
           "RandomRotate", "ToTensor", "Normalize", "Denormalize", "resize_image", "get_train_transforms",
           "get_val_transforms", "ResizeTensor", "IMAGENET_MEAN", "IMAGENET_STD", "INTERPOLATIONS"]


class ResizeTensor:
    """``(C, H, W)`` tensor -> ``(C, size, size)`` (bilinear, antialiased): appended to the course
    pipelines by ``main.py --image-size N`` for quick runs on small toy images."""

    def __init__(self, size: int):
        self.size = size

    def __call__(self, tensor: torch.Tensor) -> torch.Tensor:
        if tuple(tensor.shape[-2:]) == (self.size, self.size):
            return tensor
        return F.interpolate(tensor[None], size=(self.size, self.size), mode="bilinear", antialias=True,
                             align_corners=False)[0]

    def __repr__(self) -> str:
        return f"Resize Tensor [Size ({self.size}, {self.size})]"
