"""Batched, per-sample image augmentation on the training device.

Every image in a batch draws its own parameters as (B,)-shaped tensors.  Geometry
(crops, flips, rotations, zooms, shifts) is a (B, 2, 3) affine matrix per image in
``F.affine_grid`` coordinates (x and y in [-1, 1], y down; align_corners=False, so
pixel p of an n-pixel side sits at (2p + 1) / n - 1) and is applied in one
``F.grid_sample`` call; colour is broadcast tensor arithmetic.  That is airbench's and
SimCLR's recipe without the public-solution bug of augmenting a whole batch the same way.

Users: ``autoencoders/augment.py`` (SimCLR views, light supervised augmentation) and
``miniplaces/device_data.py`` (the CS 771 course augmentation on a resident dataset).
On a CPU, :func:`warp_opencv` applies the same matrices with OpenCV (a short Python loop
over the images, on all cores), several times faster than ``grid_sample`` there.
Every sampler takes an optional ``generator`` (on the images' device) so a caller can
seed each batch itself; without one, torch's global RNG is used.
Images are float in [0, 1], shape (B, C, H, W), unless a function says otherwise.
Nothing here waits for the GPU (no ``nonzero``, boolean masks, ``item()`` or constants
copied from the host per call; :mod:`common.syncs`), so the host can queue batches ahead.
"""
from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

from .device import device_constant, exact_fp32


def uniform(b: int, lo: float, hi: float, device, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B,) samples of U[lo, hi)."""
    return torch.empty(b, device=device).uniform_(lo, hi, generator=generator)


def coin(b: int, p: float, device, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B,) booleans, each True with probability ``p``."""
    return torch.rand(b, device=device, generator=generator) < p


def homogeneous(theta: torch.Tensor) -> torch.Tensor:
    """(B, 2, 3) affine matrices -> (B, 3, 3), so maps compose with ``@`` (one resampling, no double blur)."""
    pad = device_constant([0.0, 0.0, 1.0], theta.device, theta.dtype).expand(theta.shape[0], 1, 3)
    return torch.cat([theta, pad], 1)


def resized_crop_theta(b: int, device, scale=(0.2, 1.0), ratio=(3 / 4, 4 / 3), flip: bool = True,
                       generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, 2, 3) affine matrices of RandomResizedCrop (+ horizontal flip) in grid coordinates.

    A crop covering fraction ``s`` of the area with aspect ``r`` has width sqrt(s r) and
    height sqrt(s / r) (fractions of the image); its centre is drawn so the crop stays
    inside the image.
    """
    g = generator
    area = uniform(b, *scale, device, g)
    log_r = uniform(b, math.log(ratio[0]), math.log(ratio[1]), device, g)
    w = (area * log_r.exp()).sqrt().clamp(max=1.0)
    h = (area / log_r.exp()).sqrt().clamp(max=1.0)
    cx = (torch.rand(b, device=device, generator=g) * 2 - 1) * (1 - w)
    cy = (torch.rand(b, device=device, generator=g) * 2 - 1) * (1 - h)
    sign = torch.where(coin(b, 0.5, device, g), -1.0, 1.0) if flip else torch.ones(b, device=device)
    theta = torch.zeros(b, 2, 3, device=device)
    theta[:, 0, 0], theta[:, 0, 2] = w * sign, cx
    theta[:, 1, 1], theta[:, 1, 2] = h, cy
    return theta


def affine_theta(b: int, device, degrees: float = 15.0, scale=(0.85, 1.1), translate: float = 0.1,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, 2, 3) matrices of a random rotation, zoom and shift (digits: no flips)."""
    g = generator
    angle = uniform(b, -degrees, degrees, device, g) * (math.pi / 180)
    zoom = 1.0 / uniform(b, *scale, device, g)  # sampling grid shrinks when the digit grows
    cos, sin = angle.cos() * zoom, angle.sin() * zoom
    theta = torch.stack([torch.stack([cos, -sin, uniform(b, -2 * translate, 2 * translate, device, g)], 1),
                         torch.stack([sin, cos, uniform(b, -2 * translate, 2 * translate, device, g)], 1)], 1)
    return theta  # (B, 2, 3)


INTERPOLATION_MODES = ("nearest", "bilinear", "bicubic")  # names of the indices in a ``modes`` tensor


# Sampling grids are matrix products: in TF32 (10-bit mantissa; common/device.py) sampling points would move
# by up to ~0.1 px on a 144 px image, so the geometry runs in full float32 whatever the training policy.
@exact_fp32()
def warp(images: torch.Tensor, theta: torch.Tensor, size: tuple[int, int] | None = None,
         padding_mode: str = "zeros", mode: str = "bilinear") -> torch.Tensor:
    """Resample every image through its own affine matrix into an output of ``size`` (default: the input's).

    ``mode``: "bilinear" (default), "nearest" or "bicubic" (A = -0.75, as OpenCV's), no
    antialiasing (like OpenCV's warpAffine).  ``padding_mode``: "zeros" (black outside),
    "border" or "reflection" (mirror about the image edge).
    """
    b, c = images.shape[:2]
    out_hw = list(size) if size is not None else list(images.shape[2:])
    grid = F.affine_grid(theta.to(images.dtype), [b, c, *out_hw], align_corners=False)  # (B, h, w, 2)
    return F.grid_sample(images, grid, mode=mode, padding_mode=padding_mode, align_corners=False)


@exact_fp32()
def warp_per_sample_mode(images: torch.Tensor, theta: torch.Tensor, modes: torch.Tensor, size: tuple[int, int],
                         padding_mode: str = "zeros") -> torch.Tensor:
    """:func:`warp` with each image's own interpolation, ``modes`` (B,) indexing :data:`INTERPOLATION_MODES`.

    Every mode resamples the whole batch and each image keeps its own mode's result
    (``torch.where``): three ``grid_sample`` passes, and the host never waits.  Splitting the
    batch by mode instead needs the indices of each mode's images (``nonzero``), a host sync
    per mode that drains the GPU's queue (see ``python scripts/bench.py step`` for both costs).
    """
    b, c = images.shape[:2]
    grid = F.affine_grid(theta.to(images.dtype), [b, c, *size], align_corners=False)  # (B, h, w, 2)
    out = None
    for m, name in enumerate(INTERPOLATION_MODES):
        warped = F.grid_sample(images, grid, mode=name, padding_mode=padding_mode, align_corners=False)
        out = warped if out is None else torch.where((modes == m).view(b, 1, 1, 1), warped, out)
    return out


def warp_opencv(images: torch.Tensor, theta: torch.Tensor, size: tuple[int, int], padding_mode: str = "zeros",
                index: torch.Tensor | None = None, modes: torch.Tensor | None = None) -> torch.Tensor:
    """CPU kernel of :func:`warp` for uint8 (N, H, W, C) images: OpenCV's ``warpAffine`` per image.

    The same (B, 2, 3) grid-coordinate matrices, turned into pixel maps; OpenCV resamples
    uint8 in SIMD fixed point (1/32-pixel positions, rounded to uint8), several times
    faster than ``grid_sample``'s float kernel on a CPU, on all cores (it releases the
    GIL).  Image ``b`` of the batch is ``images[index[b]]`` (default: ``images[b]``), so a
    resident dataset is never copied into a batch first.  ``modes``: (B,) indices into
    :data:`INTERPOLATION_MODES` per image (default: all bilinear).  Returns uint8 (B, C, h, w).
    """
    import cv2
    import numpy as np

    height, width = images.shape[1:3]
    h, w = size
    b = len(theta)
    to_grid = torch.tensor([[2 / w, 0, 1 / w - 1], [0, 2 / h, 1 / h - 1], [0, 0, 1]], dtype=torch.float64)
    to_pixel = torch.tensor([[width / 2, 0, width / 2 - 0.5], [0, height / 2, height / 2 - 0.5], [0, 0, 1]],
                            dtype=torch.float64)
    maps = (to_pixel @ homogeneous(theta.double().cpu()) @ to_grid)[:, :2].numpy()  # (B, 2, 3): output px -> input px
    border = {"zeros": cv2.BORDER_CONSTANT, "border": cv2.BORDER_REPLICATE, "reflection": cv2.BORDER_REFLECT}
    src = images.numpy()
    rows = index.tolist() if index is not None else list(range(b))
    flags = [(cv2.INTER_NEAREST, cv2.INTER_LINEAR, cv2.INTER_CUBIC)[m] for m in
             (modes.tolist() if modes is not None else [1] * b)]
    out = np.empty((b, images.shape[3], h, w), dtype=np.uint8)  # (B, C, h, w)

    def run(part: range) -> None:
        for i in part:
            warped = cv2.warpAffine(src[rows[i]], maps[i], (w, h), flags=flags[i] | cv2.WARP_INVERSE_MAP,
                                    borderMode=border[padding_mode], borderValue=0)  # (h, w, C)
            for c, plane in enumerate(cv2.split(warped)):
                out[i, c] = plane

    threads = max(1, min(torch.get_num_threads(), b))
    step = -(-b // threads)
    list(_pool(threads).map(run, [range(i, min(i + step, b)) for i in range(0, b, step)]))
    return torch.from_numpy(out)


_POOLS: dict[int, object] = {}


def _pool(threads: int):
    """A lasting thread pool of ``threads`` workers (one per size; threads are cheap to keep)."""
    if threads not in _POOLS:
        from concurrent.futures import ThreadPoolExecutor
        _POOLS[threads] = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="warp")
    return _POOLS[threads]


def scale_clip_normalize(images: torch.Tensor, factors: torch.Tensor, mean, std) -> torch.Tensor:
    """``(min(x / 255 * factor, 1) - mean) / std`` per image and channel, in place.

    ``images``: float (B, C, H, W) in 0..255 (overwritten); ``factors``: (B, C) positive
    colour scales (ones for none), so only the upper clip can bite.  Three in-place
    passes, no batch-sized temporaries (on a CPU those cost as much as the arithmetic).
    """
    std = device_constant(std, images.device, images.dtype).view(1, -1, 1, 1)
    mean = device_constant(mean, images.device, images.dtype).view(1, -1, 1, 1)
    images.mul_(factors[:, :, None, None] / (255 * std)).sub_(mean / std)
    return torch.minimum(images, (1 - mean) / std, out=images)  # min(y, 1) - m == min(y - m, 1 - m)


def _gray(images: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma, (B, 1, H, W)."""
    weights = device_constant([0.299, 0.587, 0.114], images.device, images.dtype)
    return (images * weights.view(1, 3, 1, 1)).sum(dim=1, keepdim=True)


RGB_TO_YIQ = ((0.299, 0.587, 0.114), (0.596, -0.274, -0.322), (0.211, -0.523, 0.312))


@functools.cache
def _yiq_to_rgb() -> tuple:
    """The float32 inverse of :data:`RGB_TO_YIQ`, inverted once on the host (``torch.linalg.inv``
    checks for a singular matrix, which on a GPU is a sync)."""
    return tuple(map(tuple, torch.linalg.inv(torch.tensor(RGB_TO_YIQ)).tolist()))


def _hue_matrices(shift: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) RGB matrices rotating hue by ``shift`` turns (a rotation of the YIQ chroma plane)."""
    to_yiq = device_constant(RGB_TO_YIQ, shift.device)
    from_yiq = device_constant(_yiq_to_rgb(), shift.device)
    angle = shift * 2 * math.pi
    rot = torch.zeros(len(shift), 3, 3, device=shift.device)
    rot[:, 0, 0] = 1
    rot[:, 1, 1], rot[:, 1, 2] = angle.cos(), -angle.sin()
    rot[:, 2, 1], rot[:, 2, 2] = angle.sin(), angle.cos()
    return from_yiq @ rot @ to_yiq


def color_jitter(images: torch.Tensor, strength: float = 0.5, p: float = 0.8, gray_p: float = 0.2,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """SimCLR colour distortion with per-image factors: brightness, contrast, saturation, hue, grayscale.

    ``strength`` s gives brightness/contrast/saturation factors in [1 - 0.8s, 1 + 0.8s]
    and hue shifts in [-0.2s, 0.2s], applied to a random fraction ``p`` of the images.
    """
    b, dev, g = images.shape[0], images.device, generator
    apply = coin(b, p, dev, g).to(images.dtype).view(b, 1, 1, 1)  # (B, 1, 1, 1) 0/1
    k = 0.8 * strength

    def factor():
        return 1 + apply * (uniform(b, -k, k, dev, g).view(b, 1, 1, 1))

    out = images * factor()  # brightness
    mean = _gray(out).mean(dim=(2, 3), keepdim=True)  # (B, 1, 1, 1)
    out = (out - mean) * factor() + mean  # contrast
    gray = _gray(out)
    out = (out - gray) * factor() + gray  # saturation
    hue = uniform(b, -0.2 * strength, 0.2 * strength, dev, g) * apply.view(b)
    out = torch.einsum("bij,bjhw->bihw", _hue_matrices(hue).to(out.dtype), out)
    to_gray = coin(b, gray_p, dev, g).to(out.dtype).view(b, 1, 1, 1)
    out = to_gray * _gray(out).expand_as(out) + (1 - to_gray) * out
    return out.clamp(0, 1)
