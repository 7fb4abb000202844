"""DataLoaders built the same way everywhere: seeded, resumable, DDP-aware."""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from .device import seed_worker
from .distributed import DistInfo, ShardedSampler
from .errors import UserError


class EvalShardSampler(Sampler[int]):
    """Rank r evaluates indices r, r+N, r+2N, ...: every sample exactly once, no padding."""

    def __init__(self, num_samples: int, rank: int = 0, world_size: int = 1):
        self.indices = list(range(rank, num_samples, world_size))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def make_loader(dataset: Dataset, batch_size: int, *, train: bool, seed: int = 0, workers: int = 0,
                dist_info: DistInfo | None = None, drop_last: bool = False, device: torch.device | None = None,
                collate_fn=None) -> DataLoader:
    """A DataLoader whose ``batch_size`` is the *global* batch (split across DDP ranks).

    Training loaders shuffle with a per-epoch seed and can skip already-seen batches on
    resume (see :class:`ShardedSampler`); evaluation loaders shard without padding.
    """
    info = dist_info or DistInfo()
    if batch_size % info.world_size:
        raise ValueError(f"batch size {batch_size} must be divisible by the {info.world_size} DDP processes")
    if train:
        sampler = ShardedSampler(len(dataset), batch_size, shuffle=True, seed=seed, rank=info.rank,
                                 world_size=info.world_size, drop_last=drop_last)
    else:
        sampler = EvalShardSampler(len(dataset), info.rank, info.world_size)
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(dataset, batch_size=batch_size // info.world_size, sampler=sampler,
                        num_workers=workers, pin_memory=bool(device is not None and device.type == "cuda"),
                        worker_init_fn=seed_worker, generator=generator, collate_fn=collate_fn,
                        persistent_workers=False, drop_last=False)
    loader.seed = seed  # the engine reseeds the generator per epoch from this
    return loader


class DeviceBatches:
    """Batches of a dataset held in tensors on the training device (no DataLoader, no workers).

    For datasets that fit in device memory (CIFAR-10 is 150 MB as uint8): batches are
    indexed on the device and ``transform`` (e.g. uint8 -> float, batched augmentation,
    normalisation) runs there too, so no per-sample Python sits in the hot loop.
    ``transform`` maps the indexed ``x`` batch to a tuple of tensors (one view, or two
    augmented views); the labels are appended to each yielded tuple.

    Follows the engine's loader protocol: ``len()`` plus ``sampler.set_epoch(epoch, skip)``.
    Training order comes from :class:`ShardedSampler` (seeded per epoch, DDP-aware,
    resumable mid-epoch); evaluation goes through the data in order, rank r taking
    r, r+N, ... .  ``batch_size`` is the global batch, split across DDP ranks.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, *, train: bool,
                 transform: Callable[[torch.Tensor], tuple], seed: int = 0, dist_info: DistInfo | None = None):
        info = dist_info or DistInfo()
        if batch_size % info.world_size:
            raise UserError(f"--batch-size {batch_size} must be divisible by the {info.world_size} DDP processes")
        self.x, self.y, self.transform, self.train = x, y, transform, train
        self.local_batch = batch_size // info.world_size
        # Training drops a partial last batch (when there is a full one): BatchNorm cannot
        # train on a batch of one, and a tiny batch gives a contrastive loss few negatives.
        self.sampler = ShardedSampler(len(y), batch_size, shuffle=True, seed=seed, rank=info.rank,
                                      world_size=info.world_size, drop_last=len(y) > batch_size) if train else None
        self.eval_index = torch.arange(info.rank, len(y), info.world_size)

    def __len__(self) -> int:
        n = len(self.sampler) if self.sampler is not None else len(self.eval_index)
        return math.ceil(n / self.local_batch)

    def __iter__(self):
        if self.sampler is not None:
            index = torch.tensor(list(self.sampler), dtype=torch.int64)  # once per epoch
        else:
            index = self.eval_index
        for chunk in index.to(self.x.device).split(self.local_batch):
            yield (*self.transform(self.x[chunk]), self.y[chunk])
