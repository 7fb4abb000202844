"""DataLoaders built the same way everywhere: seeded, resumable, DDP-aware."""
from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from .device import seed_worker
from .distributed import DistInfo, ShardedSampler


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
