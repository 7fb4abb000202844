"""DataLoaders built the same way everywhere: seeded, resumable, DDP-aware."""
from __future__ import annotations

import math
import random
from typing import Callable, Protocol, runtime_checkable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, get_worker_info

from .device import seed_worker, to_device_async
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


@runtime_checkable
class ResumableLoader(Protocol):
    """What the engine needs from a training loader to resume mid-epoch exactly.

    ``set_epoch(epoch, skip_batches)`` is called before each epoch is iterated: the loader
    yields that epoch's batches in a fixed order, starting after ``skip_batches`` of them.
    :func:`make_loader`, :class:`DeviceBatches` and ``alexnet_rnn``'s ``BPTTWindows``
    follow it; for any other loader the engine skips the batches by iterating them.
    """

    def __len__(self) -> int: ...

    def __iter__(self): ...

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None: ...


class SeededLoader(DataLoader):
    """A DataLoader following :class:`ResumableLoader`: order and worker seeds come from (seed, epoch)."""

    def __init__(self, *args, seed: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.base_seed = seed

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None:
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch, skip_batches)
        if isinstance(self.dataset, _PerSampleSeeds):
            self.dataset.epoch = epoch
        self.generator.manual_seed(self.base_seed * 1_000_003 + epoch)


class _PerSampleSeeds(Dataset):
    """Seeds python/numpy/torch before each sample from (seed, epoch, index), inside workers.

    A worker's random stream depends on which batches it loaded before, and a resumed
    epoch hands its batches to other workers; seeding per sample makes a sample's random
    augmentation independent of that, so a mid-epoch resume with workers is exact.
    In the main process (no workers) the global stream is left alone: checkpoints restore it.
    """

    def __init__(self, dataset: Dataset, seed: int):
        self.dataset, self.seed, self.epoch = dataset, seed, 0

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        if get_worker_info() is not None:
            sample_seed = ((self.seed * 1_000_003 + self.epoch) * 1_000_033 + int(index)) % 2**63
            random.seed(sample_seed)
            np.random.seed(sample_seed % 2**32)
            torch.manual_seed(sample_seed)
        return self.dataset[index]

    def __getattr__(self, name: str):  # loader.dataset.tensors, .classes, ... of the wrapped dataset
        if name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)


def make_loader(dataset: Dataset, batch_size: int, *, train: bool, seed: int = 0, workers: int = 0,
                dist_info: DistInfo | None = None, drop_last: bool = False, device: torch.device | None = None,
                collate_fn=None) -> SeededLoader:
    """A DataLoader whose ``batch_size`` is the *global* batch (split across DDP ranks).

    Training loaders shuffle with a per-epoch seed and can skip already-seen batches on
    resume (see :class:`ShardedSampler`); evaluation loaders shard without padding.
    """
    info = dist_info or DistInfo()
    if batch_size % info.world_size:
        raise UserError(f"batch size {batch_size} must be divisible by the {info.world_size} DDP processes")
    if train:
        sampler = ShardedSampler(len(dataset), batch_size, shuffle=True, seed=seed, rank=info.rank,
                                 world_size=info.world_size, drop_last=drop_last)
        if workers > 0:
            dataset = _PerSampleSeeds(dataset, seed)
    else:
        sampler = EvalShardSampler(len(dataset), info.rank, info.world_size)
    return SeededLoader(dataset, batch_size=batch_size // info.world_size, sampler=sampler, num_workers=workers,
                        pin_memory=bool(device is not None and device.type == "cuda"), worker_init_fn=seed_worker,
                        generator=torch.Generator().manual_seed(seed), collate_fn=collate_fn,
                        persistent_workers=False, drop_last=False, seed=seed)


class DeviceBatches:
    """Batches of a dataset held in tensors on the training device (no DataLoader, no workers).

    For datasets that fit in device memory (CIFAR-10 is 150 MB as uint8): batches are
    indexed on the device and ``transform`` (e.g. uint8 -> float, batched augmentation,
    normalisation) runs there too, so no per-sample Python sits in the hot loop.
    ``transform`` maps the indexed ``x`` batch to a tuple of tensors (one view, or two
    augmented views); the labels are appended to each yielded tuple.

    Follows :class:`ResumableLoader`: ``len()`` plus ``set_epoch(epoch, skip_batches)``.
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
        self._prepared: tuple[torch.Tensor, torch.Tensor] | None = None

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None:
        if self.sampler is not None:
            self.sampler.set_epoch(epoch, skip_batches)
        self._prepared = self._epoch_index()  # before the epoch's first batch: not part of a training step

    def _epoch_index(self) -> tuple[torch.Tensor, torch.Tensor]:
        """This epoch's sample order on the host and on the labels' device (one copy, without a sync)."""
        host = torch.tensor(list(self.sampler), dtype=torch.int64) if self.sampler is not None else self.eval_index
        return host, to_device_async(host, self.y.device)

    def _take_epoch_index(self) -> tuple[torch.Tensor, torch.Tensor]:
        prepared, self._prepared = self._prepared, None
        return prepared if prepared is not None else self._epoch_index()

    def __len__(self) -> int:
        n = len(self.sampler) if self.sampler is not None else len(self.eval_index)
        return math.ceil(n / self.local_batch)

    def __iter__(self):
        _, index = self._take_epoch_index()
        for chunk in index.split(self.local_batch):  # indices on the device: batches are gathered there
            yield (*self.transform(self.x[chunk]), self.y[chunk])
