"""MiniPlaces resident on the training device, augmented a whole batch at a time (``--data-on-device``).

The decoded uint8 cache (:mod:`miniplaces.cache`, images after the course's Scale(S))
is held on the GPU, or in pinned host memory when it does not fit (uint8 batches are
then gathered there and copied).  Each training batch gets the course augmentation of
``student_code.get_train_transforms`` with per-sample parameters from the same
distributions -- horizontal flip (p = 0.5), per-channel colour factors in [0.85, 1.15],
rotation by U[-15, 15] degrees about OpenCV's centre (skipped within +-1 degree) keeping
the largest axis-aligned square without border pixels (round(S / (|cos| + |sin|)) px),
a RandomSizedCrop of that square (area [0.25, 1], w/h in [0.8, 1.2] or swapped, integer
box, 10 tries, else the whole square) resized to the crop size, and an interpolation
drawn from {nearest, bilinear, bicubic} -- as ONE affine resampling (flip, rotation, kept
square and crop composed: ``grid_sample`` once per mode drawn in the batch on a GPU,
OpenCV's uint8 ``warpAffine`` per image with its own flag on a CPU, where it is ~5x
faster), then colour scaling and ImageNet normalisation.  Validation is the course's
centre crop, an exact integer slice of the cache.

Differences from the JPEG path, by design: one resampling instead of two, with one
interpolation per image where the course draws one per step (Scale's is fixed to the
cache's bilinear); reflection at the border where the course's rotation fills black
(only the kept square's corner pixels can reach it); colour applied after the warp
without rounding to uint8.  Batches are seeded per (seed, epoch, batch, rank): the
augmentation is reproducible, independent of the model's RNG use, and a resumed run
draws exactly what the uninterrupted one did.
"""
from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass

import numpy as np
import torch

from common.augment import INTERPOLATION_MODES, coin, scale_clip_normalize, uniform, warp_opencv, warp_per_sample_mode
from common.data import DeviceBatches
from common.device import device_constant, exact_fp32, normalize_device, same_device, to_device_async
from common.distributed import DistInfo
from common.images import IMAGENET_MEAN, IMAGENET_STD

from miniplaces.custom_transforms import scale_size

HOST_RESERVE_BYTES = 4 * 2**30  # GPU memory left for the model when deciding where the data lives


@dataclass
class AugmentParams:
    """Per-sample course-augmentation parameters, all (B,)-shaped except ``colour`` (B, 3)."""

    flip: torch.Tensor     # bool
    colour: torch.Tensor   # per-channel factors
    angle: torch.Tensor    # degrees, counter-clockwise on screen; 0 where the course skips it (|angle| <= 1)
    inner: torch.Tensor    # side of the rotated image's kept square (float; the course keeps round(inner) px)
    x: torch.Tensor        # crop box in pixels of that round(inner)-pixel square (float tensors holding integers)
    y: torch.Tensor
    w: torch.Tensor
    h: torch.Tensor
    mode: torch.Tensor     # int64 index into common.augment.INTERPOLATION_MODES (nearest, bilinear, bicubic)


def sample_params(b: int, side: int, device, generator=None, *, color_range: float = 0.15, degrees: float = 15.0,
                  area=(0.25, 1.0), ratio=(0.8, 1.2), tries: int = 10) -> AugmentParams:
    """Draw the course's RandomHorizontalFlip, RandomColor, RandomRotate, RandomSizedCrop and interpolation."""
    g = generator
    flip = coin(b, 0.5, device, g)
    colour = uniform(b * 3, 1 - color_range, 1 + color_range, device, g).view(b, 3)
    angle = uniform(b, -degrees, degrees, device, g)
    angle = torch.where(angle.abs() <= 1.0, 0.0, angle)
    rad = angle.abs() * (math.pi / 180)
    inner = side / (rad.cos() + rad.sin())  # largest axis-aligned square inside the rotated square
    kept = inner.round()
    # RandomSizedCrop on the kept square: up to `tries` draws per image, the first that fits wins.
    target = uniform(b * tries, *area, device, g).view(b, tries) * (kept * kept)[:, None]
    aspect = uniform(b * tries, *ratio, device, g).view(b, tries)
    cw, ch = (target * aspect).sqrt().round(), (target / aspect).sqrt().round()  # (B, tries)
    swap = coin(b * tries, 0.5, device, g).view(b, tries)
    cw, ch = torch.where(swap, ch, cw), torch.where(swap, cw, ch)
    fits = (cw <= kept[:, None]) & (ch <= kept[:, None])
    first = fits.int().argmax(1, keepdim=True)  # (B, 1): index of the first fitting try
    found = fits.any(1)
    w = torch.where(found, cw.gather(1, first).squeeze(1), kept)  # fallback: the whole (square) kept image
    h = torch.where(found, ch.gather(1, first).squeeze(1), kept)
    x = (torch.rand(b, device=device, generator=g) * (kept - w + 1)).floor().clamp(max=kept - w)
    y = (torch.rand(b, device=device, generator=g) * (kept - h + 1)).floor().clamp(max=kept - h)
    mode = torch.randint(0, len(INTERPOLATION_MODES), (b,), device=device, generator=g)
    return AugmentParams(flip, colour, angle, inner, x, y, w, h, mode)


def identity_params(b: int, side: int, device) -> AugmentParams:
    """No flip, colour 1, no rotation, the whole image, bilinear: augmentation switched off."""
    zeros = torch.zeros(b, device=device)
    full = torch.full((b,), float(side), device=device)
    return AugmentParams(zeros.bool(), torch.ones(b, 3, device=device), zeros, full, zeros, zeros, full, full,
                         torch.ones(b, dtype=torch.int64, device=device))


@exact_fp32()  # matrix products of the geometry: never TF32 (see common/augment.py)
def params_theta(p: AugmentParams, side: int) -> torch.Tensor:
    """(B, 2, 3) sampling matrix, output grid -> source grid: crop box -> un-rotate -> un-flip.

    Composed in pixel coordinates (pixel centres at integers, as OpenCV's): output grid
    point u in [-1, 1] is crop pixel x + (u + 1) w / 2 - 0.5 (cv2.resize's mapping); kept-square
    pixel q reads flipped-image pixel S/2 + R (q - inner/2) (the course's warpAffine about
    (S/2, S/2), shifted to centre the kept square); the flip reads S - 1 - x; pixel p of
    the S-pixel source is grid point (2p + 1)/S - 1.
    """
    b, dev = p.angle.shape[0], p.angle.device

    def mat(a, bb, c, d, e, f):
        return torch.stack([torch.stack([a, bb, c], 1), torch.stack([d, e, f], 1),
                            device_constant([0.0, 0.0, 1.0], dev).expand(b, 3)], 1)  # (B, 3, 3)

    zero, one = torch.zeros(b, device=dev), torch.ones(b, device=dev)
    crop = mat(p.w / 2, zero, p.x + p.w / 2 - 0.5, zero, p.h / 2, p.y + p.h / 2 - 0.5)
    a = p.angle * (math.pi / 180)
    cos, sin, c = a.cos(), a.sin(), p.inner / 2
    rotate = mat(cos, -sin, side / 2 - cos * c + sin * c, sin, cos, side / 2 - sin * c - cos * c)
    sign = torch.where(p.flip, -1.0, 1.0)
    flip = mat(sign, zero, torch.where(p.flip, side - 1.0, 0.0), zero, one, zero)
    to_grid = device_constant([[2 / side, 0, 1 / side - 1], [0, 2 / side, 1 / side - 1], [0, 0, 1]], dev)
    return (to_grid @ flip @ rotate @ crop)[:, :2]  # (B, 2, 3)


KERNELS = ("auto", "grid_sample", "opencv")


def augment(images: torch.Tensor, p: AugmentParams, size: int, kernel: str = "auto",
            index: torch.Tensor | None = None) -> torch.Tensor:
    """uint8 (N, S, S, 3) -> normalised float (B, 3, size, size) with per-sample parameters ``p``.

    The batch is ``images[index]`` (default: all of ``images``).  ``kernel``:
    "grid_sample" (every interpolation mode over the batch, each image keeping its own:
    no host sync; GPUs), "opencv" (warpAffine per image with its own flag, on all cores;
    several times faster on a CPU, host code by nature), or "auto" (OpenCV on the CPU, else grid_sample).
    """
    side = images.shape[-2]
    theta = params_theta(p, side)
    if kernel == "opencv" or (kernel == "auto" and images.device.type == "cpu"):
        out = warp_opencv(images, theta, (size, size), "reflection", index=index, modes=p.mode).float()
    else:
        batch = (images if index is None else images[index]).permute(0, 3, 1, 2).float()  # (B, 3, S, S)
        out = warp_per_sample_mode(batch, theta, p.mode, (size, size), "reflection").clamp_(0, 255)
    return scale_clip_normalize(out, p.colour, IMAGENET_MEAN, IMAGENET_STD)


def normalising_lut(device) -> torch.Tensor:
    """(3, 256) float32: channel c's normalised value of pixel level v, ``(v / 255 - mean_c) / std_c``.

    Computed with the course's ToTensor + Normalize operations, once, on the CPU, so a gather
    from it gives identical bits on every device (a GPU divides a tensor by the number 255 as a
    multiplication by its reciprocal, 1 ulp off the CPU's division for some levels).
    """
    return _normalising_lut(normalize_device(device))


@functools.lru_cache(maxsize=8)
def _normalising_lut(device: torch.device) -> torch.Tensor:
    unit = torch.arange(256).float().div_(255)  # (256,)
    mean, std = torch.tensor(IMAGENET_MEAN)[:, None], torch.tensor(IMAGENET_STD)[:, None]
    return to_device_async(unit.expand(3, 256).sub(mean).div_(std), device)  # (3, 256)


def centre_crop(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (B, S, S, 3) -> normalised float (B, 3, size, size): the course's CenterCrop + ToTensor + Normalize,
    bit for bit, on any device (one gather from :func:`normalising_lut`)."""
    top = max(0, (images.shape[-2] - size) // 2)
    crop = images[:, top:top + size, top:top + size].permute(0, 3, 1, 2).contiguous()  # (B, 3, size, size) uint8
    channel = device_constant([[[0]], [[256]], [[512]]], images.device, torch.int32)  # (3, 1, 1): row of the LUT
    index = crop.int().add_(channel)  # (B, 3, size, size) into the flattened (3 * 256,) table
    return normalising_lut(images.device).view(-1).index_select(0, index.view(-1)).view(index.shape)


class CourseAugment:
    """Training transform of the resident batches: fresh per-sample parameters per call.

    ``images[index]`` is the batch (uint8 (N, S, S, 3)); the OpenCV kernel reads it in place.
    ``kernel``: see :func:`augment` (the tests force "grid_sample", the GPU's, on CPU tensors).
    """

    kernel = "auto"

    def __init__(self, size: int, enabled: bool = True, kernel: str | None = None):
        self.size, self.enabled = size, enabled
        if kernel is not None:
            self.kernel = kernel

    def __call__(self, images: torch.Tensor, generator=None, index: torch.Tensor | None = None) -> torch.Tensor:
        b = len(images) if index is None else len(index)
        side, dev = images.shape[-2], images.device
        p = sample_params(b, side, dev, generator) if self.enabled else identity_params(b, side, dev)
        return augment(images, p, self.size, self.kernel, index=index)


class CentreCrop:
    def __init__(self, size: int):
        self.size = size

    def __call__(self, images: torch.Tensor, generator=None, index: torch.Tensor | None = None) -> torch.Tensor:
        return centre_crop(images if index is None else images[index], self.size)


def batch_seed(seed: int, epoch: int, batch: int, rank: int) -> int:
    """A 63-bit seed per (run seed, epoch, global batch index, rank)."""
    digest = hashlib.blake2b(f"{seed}/{epoch}/{batch}/{rank}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


def choose_placement(data_device, target_device, current_cuda: int | None = None) -> str:
    """How batches reach ``target_device`` from data on ``data_device``: "resident" (the transform
    indexes the data where it lies) or "host" (gather the uint8 batch on the host, copy it over).

    Compares normalised devices: data placed with ``--device cuda`` lives on ``cuda:0``.
    """
    return "resident" if same_device(data_device, target_device, current_cuda) else "host"


class ResidentBatches(DeviceBatches):
    """:class:`common.data.DeviceBatches` over a resident uint8 split, with per-batch seeded transforms.

    ``images`` live on ``device`` or in host memory (pinned when ``device`` is a GPU); labels on
    ``device``.  ``transform(images, generator, index=None) -> float batch`` of ``images[index]``.
    Order, DDP sharding, dropping the partial last training batch and mid-epoch resume come from
    DeviceBatches (its ShardedSampler); the generator is reseeded per batch.  ``placement``
    (default: :func:`choose_placement` of the two devices) is decided once, here.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, *, train: bool, transform,
                 device: torch.device, seed: int = 0, dist_info: DistInfo | None = None,
                 placement: str | None = None):
        info = dist_info or DistInfo()
        super().__init__(images, labels.to(device), batch_size, train=train, transform=transform, seed=seed,
                         dist_info=info)
        self.device, self.seed, self.rank = normalize_device(device), seed, info.rank
        self.placement = placement or choose_placement(images.device, self.device)
        if self.placement not in ("resident", "host"):
            raise ValueError(f"placement must be 'resident' or 'host', got {self.placement!r}")

    def _host_batch(self, chunk: torch.Tensor) -> torch.Tensor:
        """Host-resident data: gather the uint8 batch (into pinned memory for a GPU), copy it without a sync."""
        pinned = self.device.type == "cuda"
        buf = torch.empty((len(chunk), *self.x.shape[1:]), dtype=self.x.dtype, pin_memory=pinned)
        torch.index_select(self.x, 0, chunk, out=buf)
        return buf.to(self.device, non_blocking=True)

    def __iter__(self):
        host_index, device_index = self._take_epoch_index()  # the order, once per epoch
        epoch, first = (self.sampler.epoch, self.sampler.skip_batches) if self.sampler is not None else (0, 0)
        generator = torch.Generator(device=self.device)
        host_chunks = host_index.split(self.local_batch)
        for i, chunk in enumerate(device_index.split(self.local_batch)):
            generator.manual_seed(batch_seed(self.seed, epoch, first + i, self.rank))
            if self.placement == "resident":  # the transform indexes the data in place (no batch copy)
                out = self.transform(self.x, generator, index=chunk)
            else:
                out = self.transform(self._host_batch(host_chunks[i]), generator)
            yield out, self.y[chunk]


def place(images: np.ndarray, device: torch.device, chunk: int = 4096) -> torch.Tensor:
    """Copy a (memory-mapped) uint8 array onto ``device``, or into pinned host memory when it does not fit."""
    device = normalize_device(device)
    where = device
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        where = device if images.nbytes + HOST_RESERVE_BYTES <= free else torch.device("cpu")
    out = torch.empty(images.shape, dtype=torch.uint8, device=where,
                      pin_memory=where.type == "cpu" and device.type == "cuda")
    for start in range(0, len(images), chunk):
        out[start:start + chunk].copy_(torch.from_numpy(np.array(images[start:start + chunk])))
    return out


def cached_split(root, split: str, side: int, num_classes: int, *, dist_info: DistInfo, quiet: bool = False):
    """The split's decoded cache as numpy ``(images, labels)`` (images memory-mapped).

    Rank 0 builds a missing or stale cache; the other DDP ranks wait for it, then load it.
    """
    import torch.distributed as dist

    from miniplaces.cache import ensure_cache

    if dist_info.is_main:
        images, labels = ensure_cache(root, split, side, num_classes, quiet=quiet)
    if dist_info.enabled:
        dist.barrier()
    if not dist_info.is_main:
        images, labels = ensure_cache(root, split, side, num_classes, build=False)
    return images, labels


def resident_loaders(root, *, image_size: int, num_classes: int, batch_size: int, val_batch_size: int,
                     device: torch.device, seed: int = 0, dist_info: DistInfo | None = None, quiet: bool = False,
                     train: bool = True) -> tuple[ResidentBatches | None, ResidentBatches]:
    """Training and validation :class:`ResidentBatches` for miniplaces/main.py ``--data-on-device``.

    Training batches of ``batch_size`` with the course augmentation, validation batches of
    ``val_batch_size`` (the course's centre crop).  ``train=False`` (evaluation) neither
    decodes nor places the training split and returns ``None`` for its loader.
    """
    info = dist_info or DistInfo()
    side = scale_size(image_size)
    splits = [("train", batch_size, CourseAugment(image_size))] if train else []
    loaders = []
    for split, batch, transform in [*splits, ("val", val_batch_size, CentreCrop(image_size))]:
        images, labels = cached_split(root, split, side, num_classes, dist_info=info, quiet=quiet)
        x = place(images, device)
        loaders.append(ResidentBatches(x, torch.from_numpy(labels), batch, train=split == "train",
                                       transform=transform, device=device, seed=seed, dist_info=info))
        if info.is_main and not quiet:
            where = loaders[-1].placement
            print(f"{split}: {len(labels)} images of {side}x{side}x3 uint8 resident on "
                  f"{x.device if where == 'resident' else 'pinned host memory'} "
                  f"({x.numel() / 2**20:.0f} MiB)", flush=True)
    return (loaders[0] if train else None), loaders[-1]
