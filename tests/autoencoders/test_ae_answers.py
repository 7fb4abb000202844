"""Numerical checks of claims made in autoencoders/ANSWERS.md (each would fail if the claim were false)."""
import math

import pytest
import torch
import torch.nn.functional as F

from autoencoders.losses import nt_xent_loss
from autoencoders.models import Encoder


def attention(q, k, v):
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1) @ v


def reordered(q, k, v):
    return torch.softmax(q / math.sqrt(q.shape[-1]), dim=-1) @ (k.transpose(-2, -1) @ v)


def test_reordered_softmax_is_not_attention():
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(6, 4, generator=gen, dtype=torch.float64) for _ in range(3))
    assert not torch.allclose(attention(q, k, v), reordered(q, k, v), atol=1e-3)
    # Attention mixes rows of V with weights summing to 1, so outputs stay inside the values' range;
    # the reordered form multiplies by K^T V (a sum over all N positions) and leaves that range.
    def inside(out):
        return bool((out <= v.max(0).values + 1e-12).all() and (out >= v.min(0).values - 1e-12).all())

    assert inside(attention(q, k, v)) and not inside(reordered(q, k, v))


def test_reordered_form_does_not_depend_on_query_key_similarity():
    # Scaling the keys changes attention weights but, in the reordered form, only scales K^T V linearly.
    gen = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(5, 3, generator=gen, dtype=torch.float64) for _ in range(3))
    assert torch.allclose(reordered(q, 2 * k, v), 2 * reordered(q, k, v))
    assert not torch.allclose(attention(q, 2 * k, v), 2 * attention(q, k, v))


def test_linearised_cost_is_n_d_squared_not_n_squared_d():
    from torch.utils.flop_counter import FlopCounterMode

    n, d = 256, 16
    q, k, v = (torch.randn(n, d) for _ in range(3))
    flops = {}
    for name, fn in (("full", attention), ("linear", reordered)):
        with FlopCounterMode(display=False) as counter:
            fn(q, k, v)
        flops[name] = counter.get_total_flops()
    assert flops["full"] == 4 * n * n * d and flops["linear"] == 4 * n * d * d  # QK^T, (.)V vs K^T V, Q(.)
    assert flops["full"] / flops["linear"] == n / d


def test_three_channel_normalize_crashes_on_mnist():
    from torchvision import transforms

    with pytest.raises(RuntimeError):
        transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))(torch.rand(1, 28, 28))
    transforms.Normalize((0.1307,), (0.3081,))(torch.rand(1, 28, 28))  # one channel: fine


def test_requires_grad_false_alone_does_not_freeze_batchnorm():
    enc = Encoder(in_channels=1, image_size=28, width=4)
    enc.requires_grad_(False)
    before = enc.features[0][1].running_mean.clone()
    enc.train()
    enc(torch.randn(8, 1, 28, 28) + 3)
    assert not torch.equal(before, enc.features[0][1].running_mean)


def test_contrastive_loss_at_init_and_at_perfect_alignment():
    n, t = 64, 0.5
    z = F.normalize(torch.randn(n, 512), dim=1)
    assert nt_xent_loss(z, torch.randn(n, 512), t).item() == pytest.approx(math.log(2 * n - 1), abs=0.05)
    # Perfectly aligned views of orthogonal images: the floor is log(1 + (2N - 2) e^{-1/t}), not 0.
    e = torch.eye(n, 128)
    floor = math.log(1 + (2 * n - 2) * math.exp(-1 / t))
    assert nt_xent_loss(e, e, t).item() == pytest.approx(floor, rel=1e-5)


def test_compression_ratios_of_a_128_d_latent():
    ratios = []
    for channels, size in ((1, 28), (3, 32)):
        x = torch.rand(2, channels, size, size)
        z = Encoder(in_channels=channels, image_size=size, latent_dim=128, width=4).eval()(x)
        ratios.append(x[0].numel() / z.shape[1])
    assert round(ratios[0], 1) == 6.1 and ratios[1] == 24
