"""--data-on-device on a CUDA GPU (skipped without one): kernels, placement, pinned fallback, an AMP epoch."""
import dataclasses
import json
import shutil

import numpy as np
import pytest
import torch

import miniplaces.device_data as dd
from common.distributed import DistInfo
from miniplaces.cache import ensure_cache
from miniplaces.device_data import CourseAugment, ResidentBatches, augment, centre_crop, place, sample_params

pytestmark = pytest.mark.gpu
SIDE, SIZE = 36, 32


def to(p, device):
    return dataclasses.replace(p, **{f.name: getattr(p, f.name).to(device) for f in dataclasses.fields(p)})


def test_cuda_grid_sample_matches_the_cpu_kernels():
    x = torch.randint(0, 256, (64, SIDE, SIDE, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    p = sample_params(64, SIDE, "cpu", torch.Generator().manual_seed(1))
    gpu = augment(x.cuda(), to(p, "cuda"), SIZE).cpu()
    assert torch.allclose(gpu, augment(x, p, SIZE, "grid_sample"), atol=1e-3)
    assert (gpu - augment(x, p, SIZE, "opencv")).abs()[:, :, 2:-2, 2:-2].mean() < 0.01  # ~0.25 pixel levels
    assert torch.equal(centre_crop(x.cuda(), SIZE).cpu(), centre_crop(x, SIZE))


def test_cuda_generator_draws_per_sample_parameters_in_range():
    g = torch.Generator(device="cuda").manual_seed(0)
    p = sample_params(2048, 144, torch.device("cuda"), g)
    assert p.angle.is_cuda and p.angle.abs().max() <= 15 and p.angle.unique().numel() > 2000
    assert ((p.colour >= 0.85) & (p.colour <= 1.15)).all()


def test_pinned_host_fallback_gives_the_same_batches(monkeypatch, toy_root, tmp_path):
    root = shutil.copytree(toy_root, tmp_path / "toy")
    images, labels = ensure_cache(root, "train", SIDE, 4, quiet=True)
    device = torch.device("cuda")
    on_gpu = place(images, device)
    monkeypatch.setattr(dd, "HOST_RESERVE_BYTES", 1 << 50)  # pretend the GPU is full
    on_host = place(images, device)
    assert on_gpu.is_cuda and not on_host.is_cuda and on_host.is_pinned()
    assert torch.equal(on_gpu.cpu(), torch.from_numpy(np.array(images)))

    def batches(x):
        loader = ResidentBatches(x, torch.from_numpy(labels), 4, train=True, transform=CourseAugment(SIZE),
                                 device=device, seed=3, dist_info=DistInfo())
        loader.sampler.set_epoch(1)
        return list(loader)

    for (a, ya), (b, yb) in zip(batches(on_gpu), batches(on_host)):
        assert a.is_cuda and b.is_cuda and torch.equal(ya, yb)
        assert torch.allclose(a, b, atol=1e-5)


def test_amp_epoch_of_main_on_the_device_path(toy_root, tmp_path):
    from miniplaces import main as mp_main

    root = shutil.copytree(toy_root, tmp_path / "toy")
    metrics = mp_main.main([str(root), "--num-classes", "4", "--image-size", "32", "-b", "8", "--epochs", "1",
                            "--warmup", "0", "--quiet", "--device", "cuda", "--amp", "--data-on-device",
                            "--logdir", str(tmp_path / "run")])
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["epochs"] == 1 and metrics["cuda_peak_MB"] > 0 and "flip_val_acc1" in saved
