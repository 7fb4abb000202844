"""torchrun / DDP helpers, so entry scripts never branch on CPU vs DDP themselves.

Under ``torchrun --nproc_per_node=N`` the environment carries RANK/WORLD_SIZE/LOCAL_RANK;
:func:`init_distributed` starts a process group (NCCL on CUDA, gloo on CPU) and pins
each rank to its GPU.  Without torchrun everything here degrades to a single process.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.distributed as dist
from torch.utils.data import Sampler


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device: torch.device) -> tuple[DistInfo, torch.device]:
    """Join the torchrun process group if there is one; returns (info, per-rank device)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(), device
    if dist.is_initialized():
        info = DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    else:
        info = DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            device = torch.device("cuda", info.local_rank)
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend, rank=info.rank, world_size=world)
    if device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
    return info, device


def cleanup_distributed(synchronize: bool = True) -> None:
    """Leave the process group.  ``synchronize`` (a run that ended normally): wait at a barrier first,
    so that no rank tears its connections down while another still finishes (rank 0 saves and tests
    after the others are done); a gloo rank whose peer left first aborted at exit ("terminate called
    without an active exception", SIGABRT) in about one run in seven on 2 loaded cores.  A failed
    run skips the barrier: the other ranks may never reach it."""
    if dist.is_available() and dist.is_initialized():
        if synchronize:
            dist.barrier()
        dist.destroy_process_group()


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum a tensor across ranks (in place); identity without a process group."""
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def all_reduce_max(tensor: torch.Tensor) -> torch.Tensor:
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return tensor


class ShardedSampler(Sampler[int]):
    """Seeded, resumable, rank-aware sampler.

    Each epoch draws one global permutation from ``seed + epoch``.  Global batch ``b``
    is ``perm[b*B:(b+1)*B]`` and rank ``r`` gets the r-th contiguous slice of it, so N
    ranks with per-rank batch ``B/N`` see exactly the batches one process sees with
    batch ``B``: DDP's averaged gradient equals the single-process gradient.
    ``skip_batches`` lets a mid-epoch resume start at the next unseen batch without
    loading the skipped images.
    """

    def __init__(self, num_samples: int, global_batch: int, *, shuffle: bool = True, seed: int = 0,
                 rank: int = 0, world_size: int = 1, drop_last: bool = False):
        if global_batch % world_size:
            raise ValueError(f"global batch {global_batch} is not divisible by world size {world_size}")
        self.n, self.global_batch, self.shuffle, self.seed = num_samples, global_batch, shuffle, seed
        self.rank, self.world, self.drop_last = rank, world_size, drop_last
        self.local_batch = global_batch // world_size
        self.epoch, self.skip_batches = 0, 0

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None:
        self.epoch, self.skip_batches = epoch, skip_batches

    def num_batches(self) -> int:
        full, rest = divmod(self.n, self.global_batch)
        return full if (self.drop_last or rest == 0) else full + 1

    def _order(self) -> torch.Tensor:
        if not self.shuffle:
            return torch.arange(self.n)
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return torch.randperm(self.n, generator=gen)

    def _batch_slice(self, order: torch.Tensor, b: int) -> torch.Tensor:
        batch = order[b * self.global_batch:(b + 1) * self.global_batch]
        if len(batch) < self.global_batch:
            # Last partial batch: split as evenly as possible; every rank gets >= 1 sample
            # by wrapping around (like DistributedSampler's padding) when world > 1.
            if self.world > 1:
                need = math.ceil(len(batch) / self.world) * self.world
                batch = torch.cat([batch, order[: need - len(batch)]])
            per_rank = len(batch) // self.world
            return batch[self.rank * per_rank:(self.rank + 1) * per_rank]
        return batch[self.rank * self.local_batch:(self.rank + 1) * self.local_batch]

    def __iter__(self) -> Iterator[int]:
        order = self._order()
        for b in range(self.skip_batches, self.num_batches()):
            yield from self._batch_slice(order, b).tolist()

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.global_batch)
        count = max(0, full - self.skip_batches) * self.local_batch
        if rest and not self.drop_last and self.skip_batches <= full:
            count += math.ceil(rest / self.world) if self.world > 1 else rest
        return count
