"""Numerical checks of the claims in alexnet_rnn/ANSWERS.md (Q3 vanishing gradients, Q4 permutations)."""
import math

import pytest
import torch


def self_attention(x, wq, wk, wv):
    """S(X) = softmax(X Wq (X Wk)^T / sqrt(d)) X Wv for a set X of n rows, (n, d) -> (n, d_v)."""
    scores = (x @ wq) @ (x @ wk).T / math.sqrt(wq.shape[1])  # (n, n)
    return torch.softmax(scores, dim=1) @ (x @ wv)


@pytest.fixture
def setup():
    gen = torch.Generator().manual_seed(0)
    n, d = 7, 5
    x = torch.randn(n, d, generator=gen, dtype=torch.float64)
    weights = [torch.randn(d, d, generator=gen, dtype=torch.float64) for _ in range(3)]
    perm = torch.eye(n, dtype=torch.float64)[torch.randperm(n, generator=gen)]
    return x, weights, perm


def test_q4b_self_attention_is_permutation_equivariant(setup):
    x, (wq, wk, wv), p = setup
    assert not torch.allclose(p @ x, x)  # a real permutation
    assert torch.allclose(p @ self_attention(x, wq, wk, wv), self_attention(p @ x, wq, wk, wv), atol=1e-12)


def test_q4c_averaging_row_gives_a_permutation_invariant_feature(setup):
    x, (wq, wk, wv), p = setup
    n = x.shape[0]
    w = torch.full((1, n), 1.0 / n, dtype=torch.float64)  # W = (1/n) 1^T: average over the set
    assert torch.allclose(w @ self_attention(p @ x, wq, wk, wv), w @ self_attention(x, wq, wk, wv), atol=1e-12)
    w_bad = torch.arange(1.0, n + 1, dtype=torch.float64).view(1, n)  # position-dependent weights
    assert not torch.allclose(w_bad @ self_attention(p @ x, wq, wk, wv), w_bad @ self_attention(x, wq, wk, wv))


def rnn_gradient_norms(w, act, steps, gen):
    """||g_t|| = ||dL/dh_t|| for h_t = act(W h_{t-1} + U x_t), L = c . h_T, t = 0..T."""
    d = w.shape[0]
    u = torch.randn(d, d, generator=gen, dtype=torch.float64)
    h = torch.randn(d, generator=gen, dtype=torch.float64)
    states = [h.requires_grad_(True)]
    for _ in range(steps):
        h = act(w @ h + u @ torch.randn(d, generator=gen, dtype=torch.float64))
        h.retain_grad()
        states.append(h)
    (torch.randn(d, generator=gen, dtype=torch.float64) @ h).backward()
    return torch.stack([s.grad.norm() for s in states])  # (T + 1,)


@pytest.mark.parametrize("act, gamma", [(torch.tanh, 1.0), (torch.sigmoid, 0.25), (lambda a: a, 1.0)])
def test_q3c_gradient_norm_decays_when_lambda_max_is_bounded(act, gamma):
    gen = torch.Generator().manual_seed(1)
    delta, d, steps = 0.9, 12, 25
    w = torch.randn(d, d, generator=gen, dtype=torch.float64)
    lam_max = torch.linalg.eigvalsh(w.T @ w).max()
    w = w * (delta / gamma) / lam_max.sqrt()  # now lambda_max(W^T W) = delta^2 / gamma^2 exactly
    norms = rnn_gradient_norms(w, act, steps, gen)
    t = torch.arange(steps + 1, dtype=torch.float64)
    bound = norms[-1] * delta ** (steps - t)  # ||g_t|| <= delta^(T - t) ||g_T||
    assert torch.all(norms <= bound * (1 + 1e-9))
    assert norms[0] < 0.1 * norms[-1]


def test_q3c_the_bound_is_what_stops_growth():
    """Control: with lambda_max(W^T W) far above delta^2/gamma^2 a linear RNN's gradient grows."""
    gen = torch.Generator().manual_seed(2)
    w = 1.5 * torch.linalg.qr(torch.randn(12, 12, generator=gen, dtype=torch.float64)).Q  # all singular values 1.5
    norms = rnn_gradient_norms(w, lambda a: a, 10, gen)
    assert torch.allclose(norms[:-1] / norms[1:], torch.full((10,), 1.5, dtype=torch.float64))
