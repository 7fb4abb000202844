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


def _matmul_flops(fn, *args) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn(*args)
    return counter.get_total_flops()


def test_dry7_attention_costs_n2d_and_reordered_costs_nd2():
    gen = torch.Generator().manual_seed(0)
    d = 16
    cost = {}
    for n in (256, 512):
        q, k, v = (torch.randn(n, d, generator=gen) for _ in range(3))
        cost[n] = (_matmul_flops(attention, q, k, v), _matmul_flops(reordered, q, k, v))
    # Doubling n: 4x the work for attention (n^2 d), 2x for the reordered form (n d^2); ratio n / d.
    assert cost[512][0] == 4 * cost[256][0] and cost[512][1] == 2 * cost[256][1]
    assert cost[512][0] / cost[512][1] == 512 / d


def test_dry7_reordered_weights_are_not_a_distribution():
    # Output row i of the reordered form is sum_j (softmax(q_i) . k_j) v_j: weights that can be negative
    # and do not sum to one, so it is not an average of the values.
    gen = torch.Generator().manual_seed(2)
    q, k = torch.randn(6, 4, generator=gen), torch.randn(6, 4, generator=gen)
    weights = torch.softmax(q / 2, dim=-1) @ k.T  # (n, n)
    assert (weights < 0).any() and not torch.allclose(weights.sum(1), torch.ones(6))


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


# ---------------------------------------------------------------- dry question 2: depth
def _linear_pieces(f, n=200_001) -> int:
    """Linear pieces of a piecewise-linear f on [0, 1], counted as slope changes on a fine grid."""
    x = torch.linspace(0, 1, n, dtype=torch.float64)
    slope = torch.diff(f(x)) / torch.diff(x)
    return 1 + int((torch.diff(slope).abs() > 1e-6).sum())


def tent(x):  # one hidden layer of 2 ReLU units: 2 relu(x) - 4 relu(x - 1/2)
    return 2 * torch.relu(x) - 4 * torch.relu(x - 0.5)


def test_dry2_depth_buys_linear_pieces_exponentially():
    # k stacked tent layers (2 units each) give 2^k pieces; one hidden layer of m ReLUs gives at most m + 1,
    # so a single hidden layer needs at least 2^k - 1 units for what depth does with 2k.
    def deep(x, k):
        for _ in range(k):
            x = tent(x)
        return x

    for k in (3, 6):
        assert _linear_pieces(lambda x: deep(x, k)) == 2 ** k
    gen = torch.Generator().manual_seed(0)
    m = 12
    w, b, a = (torch.randn(m, generator=gen, dtype=torch.float64) for _ in range(3))
    shallow = lambda x: torch.relu(x[:, None] * w + b) @ a  # noqa: E731
    assert _linear_pieces(shallow) <= m + 1


# ---------------------------------------------------------------- dry questions 3 and 6: CNN vs MLP
def test_dry3_convolution_is_a_sparse_weight_shared_linear_map():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(1, 1, 3, padding=1, bias=False).double()
    x = torch.randn(1, 1, 8, 8, dtype=torch.float64)
    dense = torch.autograd.functional.jacobian(lambda t: conv(t.view(1, 1, 8, 8)).flatten(), x.flatten())  # (64, 64)
    assert torch.allclose(dense @ x.flatten(), conv(x).flatten())  # linear: Alice is right about that
    # ...but a constrained one: 9 of 64 weights per row at most, and only 9 distinct values in all 4096.
    assert (dense != 0).sum(1).max() == 9 and len(torch.unique(dense[dense != 0])) == 9
    assert sum(p.numel() for p in conv.parameters()) == 9 and torch.nn.Linear(64, 64, bias=False).weight.numel() == 4096


def test_dry6_convolution_is_translation_equivariant_and_local():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(1, 4, 3, padding=1, padding_mode="circular", bias=False)
    x = torch.randn(1, 1, 12, 12)
    shift = lambda t: torch.roll(t, shifts=(2, 3), dims=(2, 3))  # noqa: E731
    assert torch.allclose(conv(shift(x)), shift(conv(x)), atol=1e-6)
    mlp = torch.nn.Linear(144, 4 * 144)
    assert not torch.allclose(mlp(shift(x).flatten()), shift(mlp(x.flatten()).view(1, 4, 12, 12)).flatten(), atol=1e-3)
    # Locality: one feature of our encoder's two conv+pool blocks sees a 10x10 pixel window only.
    enc = Encoder(in_channels=1, image_size=28, width=4).eval()
    img = torch.randn(1, 1, 28, 28, requires_grad=True)
    enc.features(img)[0, :, 3, 3].sum().backward()  # every channel at one position of the 7x7 map
    rows, cols = torch.nonzero(img.grad[0, 0], as_tuple=True)
    assert len(rows) > 0 and rows.max() - rows.min() < 10 and cols.max() - cols.min() < 10


# ---------------------------------------------------------------- dry question 4: EMA vs linear average
def _steps_to_minimum(average: str, lr=0.1, beta=0.9, tol=1e-3, limit=100_000) -> int:
    """Momentum on f(x) = x^2 / 2 from x = 10, the step being an EMA or the running mean of all gradients."""
    x, ema, total = 10.0, 0.0, 0.0
    for t in range(1, limit + 1):
        grad = x
        ema, total = beta * ema + (1 - beta) * grad, total + grad
        x -= lr * (ema / (1 - beta ** t) if average == "ema" else total / t)
        if abs(x) < tol:
            return t
    return limit


def test_dry4_linear_average_forgets_nothing_and_converges_far_slower():
    ema, linear = _steps_to_minimum("ema"), _steps_to_minimum("linear")
    assert ema < 200 and linear > 20 * ema
    # The weight of the newest gradient: 1 - beta for the EMA, 1 / t for the linear average (vanishing).
    grads = torch.cat([torch.ones(1000), -torch.ones(20)])  # the gradient flips sign at step 1000
    ema_value = 0.0
    for g in grads.tolist():
        ema_value = 0.9 * ema_value + 0.1 * g
    assert ema_value < 0 < grads.mean()  # the EMA followed the flip within 20 steps, the mean did not


# ---------------------------------------------------------------- dry question 5: backward needs a scalar
def test_dry5_backward_computes_vector_jacobian_products():
    x = torch.randn(5, requires_grad=True)
    w = torch.randn(3, 5)
    y = torch.tanh(w @ x)  # R^5 -> R^3
    with pytest.raises(RuntimeError, match="scalar"):
        y.backward(retain_graph=True)
    v = torch.tensor([0.5, -1.0, 2.0])
    y.backward(v, retain_graph=True)  # explicit v: the gradient of the scalar v . y
    jac = torch.autograd.functional.jacobian(lambda t: torch.tanh(w @ t), x.detach())
    assert torch.allclose(x.grad, v @ jac)
    # The full Jacobian takes one backward pass per output (3 here); a scalar loss takes one in all.
    rows = [torch.autograd.grad(y[i], x, retain_graph=True)[0] for i in range(3)]
    assert torch.allclose(torch.stack(rows), jac)


# ---------------------------------------------------------------- dry question 8: attention map shades
def test_dry8_only_a_one_hot_row_can_hold_a_white_pixel():
    # Rows are softmax distributions: a pixel reaches 1 (white) only if the rest of its row is 0.
    one_word = torch.softmax(torch.tensor([9.0, 0.0, 0.0, 0.0]), 0)
    two_words = torch.softmax(torch.tensor([5.0, 4.6, 0.0, 0.0]), 0)
    assert one_word.max() > 0.99 and two_words.max() < 0.62 and torch.allclose(two_words.sum(), torch.tensor(1.0))


# ---------------------------------------------------------------- dry question 9: the diffusion ELBO
def test_dry9_log_likelihood_is_elbo_plus_a_nonnegative_kl():
    # A latent-variable model with 4 discrete latents: log p(x) = ELBO(q) + KL(q || p(z | x)) for any q.
    gen = torch.Generator().manual_seed(0)
    joint = torch.rand(4, generator=gen, dtype=torch.float64) * 0.1  # p(x, z) for the observed x
    log_px = joint.sum().log()
    posterior = joint / joint.sum()
    for _ in range(5):
        q = torch.softmax(torch.randn(4, generator=gen, dtype=torch.float64), 0)
        elbo = (q * (joint.log() - q.log())).sum()
        kl = (q * (q.log() - posterior.log())).sum()
        assert elbo <= log_px and kl >= 0 and torch.isclose(elbo + kl, log_px)
    assert torch.isclose((posterior * (joint.log() - posterior.log())).sum(), log_px)  # tight at the posterior


def test_dry9_prior_matching_term_is_a_constant_near_zero():
    # DDPM's linear schedule (beta 1e-4 .. 0.02, T = 1000): q(x_T | x_0) = N(sqrt(abar_T) x_0, 1 - abar_T),
    # with no trainable parameter; its KL to N(0, 1) per pixel in [-1, 1] is tiny.
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    abar = torch.prod(1 - betas)
    x0 = torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64)
    mean, var = abar.sqrt() * x0, 1 - abar
    kl = 0.5 * (var + mean ** 2 - 1 - var.log())
    assert abar < 1e-4 and (kl < 1e-4).all()


# ---------------------------------------------------------------- dry question 10: VAEs
def test_dry10_gaussian_kl_closed_form_matches_monte_carlo():
    # The VAE regulariser KL(N(mu, s^2) || N(0, 1)) = (s^2 + mu^2 - 1 - log s^2) / 2, checked by sampling
    # with the reparameterisation z = mu + s * eps.
    gen = torch.Generator().manual_seed(0)
    mu, s = torch.tensor(0.7, dtype=torch.float64), torch.tensor(0.4, dtype=torch.float64)
    z = mu + s * torch.randn(400_000, generator=gen, dtype=torch.float64)
    log_q = -0.5 * ((z - mu) / s) ** 2 - s.log()
    log_p = -0.5 * z ** 2
    closed = 0.5 * (s ** 2 + mu ** 2 - 1 - (s ** 2).log())
    assert (log_q - log_p).mean().item() == pytest.approx(closed.item(), abs=5e-3)
