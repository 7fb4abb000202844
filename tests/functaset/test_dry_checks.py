"""Numerical checks of the dry answers in functaset/ANSWERS.md (one test per claim, named by question)."""
import math

import pytest
import torch
import torch.nn as nn


# Q1: depth buys efficiency. k tent maps composed = a sawtooth with 2^k linear pieces, built
# from 2 ReLUs per layer; one hidden layer of n ReLUs has at most n + 1 pieces.
def tent(x):
    return 2 * torch.relu(x) - 4 * torch.relu(x - 0.5)  # 2 ReLU units: 0 -> 0, 0.5 -> 1, 1 -> 0


def count_pieces(y: torch.Tensor, x: torch.Tensor) -> int:
    slope = torch.diff(y) / torch.diff(x)
    return 1 + int((torch.diff(slope).abs() > 1e-3).sum())  # kinks on a grid that hits them exactly


def test_q1_deep_sawtooth_needs_exponentially_many_shallow_units():
    x = torch.linspace(0, 1, 2 ** 12 + 1, dtype=torch.float64)
    y = x
    for _ in range(6):  # depth 6, 12 ReLUs in total
        y = tent(y)
    assert count_pieces(y, x) == 2 ** 6
    g = torch.Generator().manual_seed(0)
    for n in (8, 32, 63):  # a single hidden layer with n ReLUs: at most n + 1 pieces, so >= 63 units for 64
        w, b, v = (torch.randn(n, generator=g, dtype=torch.float64) for _ in range(3))
        shallow = torch.relu(x[:, None] * w + b) @ v
        assert count_pieces(shallow, x) <= n + 1


# Q2: a convolution is linear (a matrix), but a sparse, weight-shared one; that constraint is the point.
def test_q2_conv_is_a_sparse_shared_matrix_and_commutes_with_shifts():
    torch.manual_seed(0)
    conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
    n = 8
    basis = torch.eye(n * n).view(n * n, 1, n, n)
    matrix = conv(basis).detach().view(n * n, n * n).T  # column j = response to pixel j
    x = torch.randn(1, 1, n, n)
    torch.testing.assert_close(conv(x).detach().flatten(), matrix @ x.flatten())
    assert (matrix != 0).float().mean() < 0.15  # at most 9 of 64 entries per row
    assert len(torch.unique(matrix[matrix != 0])) == 9  # 4096 entries, only 9 distinct values
    assert conv.weight.numel() == 9 and nn.Linear(n * n, n * n).weight.numel() == 4096
    shifted = torch.roll(x, 1, dims=3)
    shifted[..., 0] = 0
    expected = torch.roll(conv(x), 1, dims=3)[..., 1:-1]
    torch.testing.assert_close(conv(shifted)[..., 1:-1], expected)  # equivariance away from the border


# Q3: on a convex but ill-conditioned quadratic, momentum needs ~sqrt(kappa) instead of ~kappa steps.
def steps_to_converge(kappa: float, momentum: bool, tol: float = 1e-6) -> int:
    lam = torch.tensor([1.0, kappa], dtype=torch.float64)  # f(x) = 0.5 * sum(lam * x^2)
    if momentum:  # heavy ball with Polyak's optimal constants
        lr, beta = 4 / (math.sqrt(kappa) + 1) ** 2, ((math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)) ** 2
    else:
        lr, beta = 2 / (1 + kappa), 0.0
    x, v = torch.ones(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    for step in range(1, 100_000):
        v = beta * v - lr * lam * x
        x = x + v
        if x.norm() < tol:
            return step
    raise AssertionError("did not converge")


def test_q3_momentum_on_convex_quadratic():
    gd, hb = steps_to_converge(100.0, False), steps_to_converge(100.0, True)
    assert gd > 5 * hb, (gd, hb)  # measured: 709 vs 95 steps (kappa = 1000: 7082 vs 321)
    assert steps_to_converge(1.0, False) == 1  # perfectly conditioned: plain GD is already optimal


# Q4: backward() computes a vector-Jacobian product; for a scalar the vector is implicitly 1.
def test_q4_backward_needs_a_scalar_or_a_vector():
    x = torch.randn(5, requires_grad=True)
    y = x ** 2
    with pytest.raises(RuntimeError, match="scalar"):
        y.backward()
    v = torch.randn(5)
    y.backward(v)
    torch.testing.assert_close(x.grad, 2 * x.detach() * v)  # v^T J with J = diag(2x)


# Q5: Conv2d(1, 1, 32) on a 1x32x32 image gives ONE number, broadcast against the 32x32 target.
def test_q5_conv32_gradients_match_autograd():
    torch.manual_seed(0)
    model = nn.Conv2d(1, 1, 32)
    x, y = torch.randn(1, 32, 32), torch.randn(1, 32, 32)
    y_hat = model(x)
    assert y_hat.shape == (1, 1, 1)
    loss = ((y_hat - y) ** 2).sum()
    loss.backward()
    s = 2 * (y_hat.detach() - y).sum()  # = 2 * 1024 * (y_hat - mean(y))
    torch.testing.assert_close(model.bias.grad, s.view(1))
    torch.testing.assert_close(model.weight.grad, (s * x).view(1, 1, 32, 32))


# Q6: an RNN already depends on order; self-attention without positions does not.
def test_q6_rnn_is_order_aware_attention_is_not():
    torch.manual_seed(0)
    seq = torch.randn(1, 6, 8)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    rnn = nn.RNN(8, 16, batch_first=True)
    assert not torch.allclose(rnn(seq)[1], rnn(seq[:, perm])[1], atol=1e-4)
    attn = nn.MultiheadAttention(8, 2, batch_first=True)
    out, _ = attn(seq, seq, seq)
    out_perm, _ = attn(seq[:, perm], seq[:, perm], seq[:, perm])
    torch.testing.assert_close(out_perm, out[:, perm])  # only permuted along: positions are invisible


# Q7: a row of attention weights is a softmax: it sums to 1, so its largest entry is 1 only when one-hot.
def test_q7_attention_row_white_only_when_one_hot():
    peaked = torch.softmax(torch.tensor([12.0, 0.0, 0.0, 0.0]), dim=0)
    spread = torch.softmax(torch.tensor([2.0, 2.0, 1.5, 0.0]), dim=0)
    assert peaked.sum() == pytest.approx(1) and spread.sum() == pytest.approx(1)
    assert peaked.max() > 0.99 and spread.max() < 0.5


# Q8: real data at 0, generated at theta: JS is log 2 for any theta != 0 (no gradient), W1 = |theta|.
def test_q8_js_is_flat_wasserstein_is_not():
    def js(theta):  # two point masses, disjoint unless theta == 0
        return 0.0 if theta == 0 else math.log(2)

    for theta in (0.1, 1.0, 10.0):
        assert js(theta) == pytest.approx(math.log(2))
        theta_t = torch.tensor(theta, requires_grad=True)
        w1 = (theta_t - 0.0).abs()  # Wasserstein-1 between the two point masses
        w1.backward()
        assert w1.item() == pytest.approx(theta) and theta_t.grad.item() == pytest.approx(1.0)


# Q9(c): L_T = KL(q(x_T | x_0) || N(0, I)) has no parameter and is ~0 for the usual schedule.
def test_q9_prior_term_is_a_negligible_constant():
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)  # DDPM's linear schedule, T = 1000
    abar = torch.prod(1 - betas)
    x0 = torch.ones(784, dtype=torch.float64)  # worst case for data scaled to [-1, 1]
    mean, var = abar.sqrt() * x0, 1 - abar
    kl = 0.5 * (var + mean ** 2 - 1 - torch.log(var)).sum()  # KL(N(mean, var I) || N(0, I))
    assert abar < 1e-4 and kl < 0.02  # measured: abar = 4.0e-5, KL = 0.016 nats over 784 pixels


# Q10(b): products of many factors below / above 1.
def test_q10_vanishing_and_exploding_products():
    x = torch.zeros(1, requires_grad=True)
    h = x
    for _ in range(20):  # sigmoid'(0) = 0.25, the largest it gets
        h = torch.sigmoid(h)
    h.backward()
    assert x.grad.item() < 0.25 ** 19  # vanishing: measured 1.3e-13
    w = torch.tensor(1.1, requires_grad=True)
    (w ** 100).backward()  # a linear RNN h_t = w h_{t-1}: d h_100 / d h_0 = w^100
    assert 1.1 ** 100 > 1e4 and w.grad.item() > 1e5  # exploding: 13,781 and its derivative 1.25e6


# Q10(c): He initialisation keeps a deep ReLU MLP's signal (and so its gradients) at scale.
def test_q10_he_init_keeps_signal_scale_through_depth():
    torch.manual_seed(0)
    x = torch.randn(256, 256)

    def final_std(init):
        h = x
        for _ in range(30):
            layer = nn.Linear(256, 256, bias=False)
            init(layer.weight)
            h = torch.relu(layer(h))
        return h.std().item()

    he = final_std(lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"))
    small = final_std(lambda w: nn.init.normal_(w, std=0.01))
    assert 0.2 < he < 5 and small < 1e-20
