"""Numerical checks of the claims in alexnet_rnn/ANSWERS.md (Q3 in the handout's formulation, Q4 b-c)."""
import pytest
import torch

DT = torch.float64


# ----------------------------------------------------------------------------- Q3
def rnn_states(w, u, b, xs, h0, rho):
    """The handout's unit h_t = W rho(h_{t-1}) + U x_t + b, t = 1..T; returns [h_0, ..., h_T]."""
    hs = [h0]
    for x in xs:
        hs.append(w @ rho(hs[-1]) + u @ x + b)
    return hs


def conventional_states(w, u, b, xs, g0, rho):
    """The conventional unit g_t = rho(W g_{t-1} + U x_t + b); returns [g_0, ..., g_T]."""
    gs = [g0]
    for x in xs:
        gs.append(rho(w @ gs[-1] + u @ x + b))
    return gs


def random_unit(d=6, steps=20, seed=0, w_scale=1.0):
    gen = torch.Generator().manual_seed(seed)
    w = w_scale * torch.randn(d, d, generator=gen, dtype=DT)
    u, b = torch.randn(d, 3, generator=gen, dtype=DT), torch.randn(d, generator=gen, dtype=DT)
    xs = [torch.randn(3, generator=gen, dtype=DT) for _ in range(steps)]
    return w, u, b, xs, torch.randn(d, generator=gen, dtype=DT)


@pytest.mark.parametrize("rho", [torch.tanh, torch.sigmoid, torch.relu])
def test_q3b_g_t_equals_rho_of_h_t_at_every_step(rho):
    w, u, b, xs, h0 = random_unit()
    hs = rnn_states(w, u, b, xs, h0, rho)
    gs = conventional_states(w, u, b, xs, rho(h0), rho)  # base case g_0 = rho(h_0)
    for h, g in zip(hs, gs):
        assert torch.allclose(g, rho(h), atol=1e-12)
    assert not torch.allclose(gs[-1], hs[-1])  # the two states differ; only rho(h_t) matches g_t


def jacobian_h_T_h_0(w, u, b, xs, h0, rho):
    return torch.autograd.functional.jacobian(lambda h: rnn_states(w, u, b, xs, h, rho)[-1], h0)  # (d, d)


def test_q3c_jacobian_is_the_product_of_w_diag_rho_prime():
    """dh_t/dh_{t-1} = W diag(rho'(h_{t-1})), so dh_T/dh_0 is their product (checked against autograd)."""
    w, u, b, xs, h0 = random_unit(steps=5)
    hs = rnn_states(w, u, b, xs, h0, torch.tanh)
    product = torch.eye(len(h0), dtype=DT)
    for h_prev in hs[:-1]:
        product = w @ torch.diag(1 - torch.tanh(h_prev) ** 2) @ product
    assert torch.allclose(jacobian_h_T_h_0(w, u, b, xs, h0, torch.tanh), product, atol=1e-12)


@pytest.mark.parametrize("rho, gamma", [(torch.tanh, 1.0), (torch.sigmoid, 0.25), (lambda a: a, 1.0)])
def test_q3c_norm_of_dh_T_dh_0_is_below_delta_to_the_T(rho, gamma):
    delta, steps = 0.9, 25
    w, u, b, xs, h0 = random_unit(steps=steps, seed=1)
    w = w * (delta / gamma) / torch.linalg.eigvalsh(w.T @ w).max().sqrt()  # lambda_max(W^T W) = delta^2/gamma^2
    norms = [torch.linalg.matrix_norm(jacobian_h_T_h_0(w, u, b, xs[:t], h0, rho), ord=2) for t in range(1, steps + 1)]
    for t, norm in enumerate(norms, 1):
        assert norm <= delta ** t * (1 + 1e-9), (t, float(norm))
    assert norms[-1] < 0.1  # vanished: 0.9^25 = 0.072


def test_q3d_above_the_bound_gradients_can_explode_but_need_not():
    """Control: lambda_max(W^T W) = 2.25 > 1 / gamma^2 for tanh (gamma = 1)."""
    w = 1.5 * torch.linalg.qr(torch.randn(6, 6, generator=torch.Generator().manual_seed(2), dtype=DT)).Q
    _, u, b, xs, h0 = random_unit(steps=10, seed=3)
    identity = torch.linalg.matrix_norm(jacobian_h_T_h_0(w, u, b, xs, h0, lambda a: a), ord=2)
    assert identity == pytest.approx(1.5 ** 10)  # linear unit: grows like 1.5^T (explodes)
    saturated = torch.linalg.matrix_norm(jacobian_h_T_h_0(w, u, b + 20, xs, 20 + h0, torch.tanh), ord=2)
    assert saturated < 1e-6  # same W, tanh saturated: rho' ~ 0, the gradient still vanishes


# ----------------------------------------------------------------------------- Q4
def self_attention(x, wq, wk, wv, alpha):
    """The handout's S(X): A = X Wq Wk^T X^T / alpha, S(X)_t = softmax(A_t) X Wv; (T, D_in) -> (T, D_v)."""
    a = x @ wq @ wk.T @ x.T / alpha  # (T, T)
    return torch.softmax(a, dim=1) @ x @ wv


@pytest.fixture
def setup():
    gen = torch.Generator().manual_seed(0)
    t, d_in, d_k, d_v = 7, 5, 4, 3
    x = torch.randn(t, d_in, generator=gen, dtype=DT)
    weights = (torch.randn(d_in, d_k, generator=gen, dtype=DT), torch.randn(d_in, d_k, generator=gen, dtype=DT),
               torch.randn(d_in, d_v, generator=gen, dtype=DT))
    perm = torch.eye(t, dtype=DT)[torch.randperm(t, generator=gen)]
    return x, weights, perm


def test_q4b_self_attention_is_permutation_equivariant(setup):
    x, (wq, wk, wv), p = setup
    assert not torch.allclose(p @ x, x)  # a real permutation
    for alpha in (1.0, 2.0):
        assert torch.allclose(p @ self_attention(x, wq, wk, wv, alpha), self_attention(p @ x, wq, wk, wv, alpha),
                              atol=1e-12)


def test_q4c_averaging_row_gives_a_permutation_invariant_feature(setup):
    x, (wq, wk, wv), p = setup
    t = x.shape[0]
    w = torch.full((1, t), 1.0 / t, dtype=DT)  # W = (1/T) 1^T: average over the set
    assert torch.allclose(w @ self_attention(p @ x, wq, wk, wv, 2.0), w @ self_attention(x, wq, wk, wv, 2.0),
                          atol=1e-12)
    w_bad = torch.arange(1.0, t + 1, dtype=DT).view(1, t)  # position-dependent weights break it
    assert not torch.allclose(w_bad @ self_attention(p @ x, wq, wk, wv, 2.0),
                              w_bad @ self_attention(x, wq, wk, wv, 2.0))
