"""CUDA checks (skipped without a GPU): same numbers on the GPU as on the CPU."""
import pytest
import torch

from functaset.SIREN import ModulatedSIREN
from functaset.fitting import fit_modulations
from functaset.models import FunctaMLP
from functaset.sweep import sweep


@pytest.mark.gpu
def test_decode_and_batched_fit_match_cpu():
    torch.manual_seed(0)
    inr = ModulatedSIREN(hidden=32, depth=3, modul_features=16)
    images = torch.rand(8, 28, 28)
    vecs = torch.randn(8, 16) * 0.1
    torch.testing.assert_close(inr.cuda()(vecs.cuda()).cpu(), inr.cpu()(vecs), atol=1e-4, rtol=1e-3)
    cpu = fit_modulations(inr, images, steps=3, lr=0.5)
    gpu = fit_modulations(inr.cuda(), images.cuda(), steps=3, lr=0.5).cpu()
    torch.testing.assert_close(gpu, cpu, atol=1e-4, rtol=1e-3)


@pytest.mark.gpu
def test_sweep_runs_on_cuda_within_bounds():
    torch.manual_seed(0)
    model = FunctaMLP(in_dim=16, hidden=32, depth=1).cuda().eval()
    x, y = torch.randn(40, 16) * 1e-3, torch.randint(0, 10, (40,))
    eps = [1e-5, 1e-4, 1e-3]
    res = sweep(model, x, y, eps, [e / 4 for e in eps], device="cuda")
    for k, e in enumerate(eps):
        assert (res["x_adv"][k] - x).abs().max() <= e * (1 + 1e-5)
