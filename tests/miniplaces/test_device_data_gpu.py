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
    """Expectations derived, not guessed: the first version wanted > 2000 distinct angles of 2048, but
    angles with |angle| <= 1 are set to 0 (the course skips them), 2 of the 30 degrees of U[-15, 15]:
    about 2048 * 14 / 15 + 1 = 1912 distinct values (the H200 gave 1906)."""
    n = 2048
    g = torch.Generator(device="cuda").manual_seed(0)
    p = sample_params(n, 144, torch.device("cuda"), g)
    assert p.angle.is_cuda and p.angle.abs().max() <= 15
    turned = p.angle[p.angle != 0]
    assert (turned.abs() > 1).all()
    # Zeros ~ Binomial(n, 1/15): mean 136.5, sd 11.3; 5 sd either way fails with probability < 1e-6.
    zeros, mean, sd = n - len(turned), n / 15, (n * (1 / 15) * (14 / 15)) ** 0.5
    assert abs(zeros - mean) <= 5 * sd
    # Non-zero angles are distinct but for chance collisions: u has >= 2^24 equally likely float32 values,
    # so ~1912 draws collide in C(1912, 2) / 2^24 = 0.11 pairs on average; > 3 has probability < 1e-4.
    assert turned.unique().numel() >= len(turned) - 3
    assert ((p.colour >= 0.85) & (p.colour <= 1.15)).all()


def test_pinned_host_fallback_gives_the_same_batches(monkeypatch, toy_root, tmp_path):
    """``--device cuda`` names torch.device("cuda"), the data reports cuda:0: placement must see one device
    (the H200 run took the host path for GPU-resident data and failed in index_select)."""
    root = shutil.copytree(toy_root, tmp_path / "toy")
    images, labels = ensure_cache(root, "train", SIDE, 4, quiet=True)
    device = torch.device("cuda")
    on_gpu = place(images, device)
    monkeypatch.setattr(dd, "HOST_RESERVE_BYTES", 1 << 50)  # pretend the GPU is full
    on_host = place(images, device)
    assert on_gpu.is_cuda and not on_host.is_cuda and on_host.is_pinned()
    assert torch.equal(on_gpu.cpu(), torch.from_numpy(np.array(images)))

    def loader(x):
        return ResidentBatches(x, torch.from_numpy(labels), 4, train=True, transform=CourseAugment(SIZE),
                               device=device, seed=3, dist_info=DistInfo())

    resident, host = loader(on_gpu), loader(on_host)
    assert (resident.placement, host.placement) == ("resident", "host")
    for one in (resident, host):
        one.set_epoch(1)
    for (a, ya), (b, yb) in zip(resident, host):
        assert a.is_cuda and b.is_cuda and torch.equal(ya, yb)
        assert torch.equal(a, b)  # the same kernel on the same uint8 batch


def test_amp_epoch_of_main_on_the_device_path(toy_root, tmp_path):
    from miniplaces import main as mp_main

    root = shutil.copytree(toy_root, tmp_path / "toy")
    metrics = mp_main.main([str(root), "--num-classes", "4", "--image-size", "32", "-b", "8", "--epochs", "1",
                            "--warmup", "0", "--quiet", "--device", "cuda", "--amp", "--data-on-device",
                            "--logdir", str(tmp_path / "run")])
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["epochs"] == 1 and metrics["cuda_peak_MB"] > 0 and "flip_val_acc1" in saved
