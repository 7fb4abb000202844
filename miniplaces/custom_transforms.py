"""The course's ``custom_transforms`` names for image augmentation (OpenCV ``(H, W, 3)`` uint8 RGB).

The implementations live in ``student_code.py`` (the handed-in file must run without
this repository); this module re-exports them under the course helper's public names
and signatures (``Scale``, ``RandomSizedCrop`` and ``RandomRotate`` draw the
interpolation per image from nearest/bilinear/bicubic, as the course's do), and adds
:func:`sized_transforms` for quick toy runs below the course's 128x128.
Randomness comes from Python's ``random`` module, which the engine seeds per run and
per DataLoader worker.
"""
from __future__ import annotations

from miniplaces.student_code import (IMAGENET_MEAN, IMAGENET_STD, INTERPOLATIONS, CenterCrop, Compose, Denormalize,
                                     Normalize, RandomColor, RandomHorizontalFlip, RandomRotate, RandomSizedCrop,
                                     Scale, ToTensor, get_train_transforms, get_val_transforms, resize_image)

__all__ = ["Compose", "RandomHorizontalFlip", "Scale", "CenterCrop", "RandomSizedCrop", "RandomColor",
           "RandomRotate", "ToTensor", "Normalize", "Denormalize", "resize_image", "get_train_transforms",
           "get_val_transforms", "sized_transforms", "scale_size", "IMAGENET_MEAN", "IMAGENET_STD", "INTERPOLATIONS"]


def scale_size(size: int) -> int:
    """The course's Scale side for crop ``size``: 144 for 128, ``round(size * 144 / 128)`` for toy sizes.

    The one place this ratio lives: the sized pipelines, the decoded cache and ``--data-on-device``."""
    return round(size * 144 / 128)


def sized_transforms(train: bool, size: int) -> Compose:
    """The course pipelines scaled to crop ``size`` (resize ``size * 144 / 128``), for quick toy runs
    below 128x128 (``main.py --image-size``); at 128 they equal student_code's."""
    resize = scale_size(size)
    normalize = Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD)
    if train:
        return Compose([Scale(resize), RandomHorizontalFlip(), RandomColor(0.15), RandomRotate(15),
                        RandomSizedCrop(size), ToTensor(), normalize])
    return Compose([Scale(resize, interpolations=None), CenterCrop(size), ToTensor(), normalize])
