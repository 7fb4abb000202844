"""common.data.DeviceBatches: device-resident batches with the engine's sampler protocol."""
import torch

from common.data import DeviceBatches
from common.distributed import DistInfo


def test_device_batches_cover_eval_set_once_in_order():
    x = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1).expand(10, 1, 4, 4).contiguous()
    y = torch.arange(10)
    batches = list(DeviceBatches(x, y, 4, train=False, transform=lambda b: (b,)))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    assert torch.cat([b[1] for b in batches]).tolist() == list(range(10))
    assert batches[0][0][:, 0, 0, 0].tolist() == [0, 1, 2, 3]  # the transform sees the raw batch


def test_training_batches_shuffle_drop_partial_and_reseed_per_epoch():
    x, y = torch.zeros(10, 1, 2, 2, dtype=torch.uint8), torch.arange(10)
    loader = DeviceBatches(x, y, 4, train=True, transform=lambda b: (b,), seed=3)
    assert len(loader) == 2
    epoch0 = torch.cat([b[1] for b in loader])
    assert len(epoch0) == 8 and len(set(epoch0.tolist())) == 8
    loader.sampler.set_epoch(1)
    assert torch.cat([b[1] for b in loader]).tolist() != epoch0.tolist()


def test_resume_skips_seen_batches_and_ranks_split_the_global_batch():
    x, y = torch.zeros(16, 1, 2, 2), torch.arange(16)
    loader = DeviceBatches(x, y, 4, train=True, transform=lambda b: (b,), seed=1)
    full = [b[1].tolist() for b in loader]
    loader.sampler.set_epoch(0, skip_batches=2)
    assert [b[1].tolist() for b in loader] == full[2:] and len(loader) == 2
    halves = [[b[1].tolist() for b in DeviceBatches(x, y, 4, train=True, transform=lambda b: (b,), seed=1,
                                                    dist_info=DistInfo(rank=r, world_size=2))] for r in range(2)]
    assert [a + b for a, b in zip(*halves)] == full
