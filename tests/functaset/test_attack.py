"""The functa attack: a genuine 10-step PGD, inside the bound, monotone sweep, model untouched."""
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

from functaset.attack import attack_classifier
from functaset.models import FunctaMLP
from functaset.sweep import accuracy, choose_step_sizes, envelope, pick_cm_index, sweep


def toy_problem(n=96, dim=16, seed=0):
    """Linearly separable-ish vectors with a small scale, like functa modulations."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(10, dim, generator=g) * 1e-3
    y = torch.arange(n) % 10
    x = centers[y] + 4e-4 * torch.randn(n, dim, generator=g)
    return x, y


def trained_model(x, y, epochs=150):
    torch.manual_seed(0)
    model = FunctaMLP(in_dim=x.shape[1], hidden=32, depth=1, dropout=0.0, input_dropout=0.0)
    model.set_normalization(x)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(epochs):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    opt.zero_grad(set_to_none=True)
    return model


class Recorder(nn.Module):
    """Wraps a model and records every input it is called with."""

    def __init__(self, model):
        super().__init__()
        self.model, self.inputs = model, []

    def forward(self, x):
        self.inputs.append(x.detach().clone())
        return self.model(x)


def test_ten_steps_each_change_the_perturbation_within_the_bound():
    x, y = toy_problem()
    model = Recorder(trained_model(x, y))
    eps = 2e-4
    loader = DataLoader(TensorDataset(x, y), batch_size=len(y))
    result = attack_classifier(model, loader, nn.CrossEntropyLoss(), eps, num_pgd_steps=10, lr=eps / 20, details=True)
    # PGD evaluates the model once per step at the current point; then the two prediction passes.
    steps = model.inputs[:10]
    perturbations = [s - x for s in steps[1:]] + [result.x_adv - x]
    assert len(perturbations) == 10
    previous = torch.zeros_like(x)
    for k, delta in enumerate(perturbations):
        assert (delta - previous).abs().max() > 0, f"step {k + 1} did not change the perturbation"
        assert delta.abs().max() <= eps * (1 + 1e-5)
        previous = delta


def test_model_grads_and_mode_untouched():
    x, y = toy_problem()
    model = trained_model(x, y)
    model.train()
    loader = DataLoader(TensorDataset(x, y), batch_size=32)
    attack_classifier(model, loader, nn.CrossEntropyLoss(), 1e-4)
    assert all(p.grad is None for p in model.parameters())
    assert model.training


def test_sweep_batched_matches_single_bounds_and_is_monotone():
    x, y = toy_problem()
    model = trained_model(x, y)
    eps = [1e-5, 5e-5, 1e-4, 5e-4, 1e-3]
    alphas = [e / 4 for e in eps]
    res = sweep(model, x, y, eps, alphas, steps=10, rows=100)  # small rows: several chunks
    for k, e in enumerate(eps):
        single = attack_classifier(model, [(x, y)], None, e, lr=alphas[k], details=True)
        torch.testing.assert_close(res["x_adv"][k], single.x_adv)
        assert (res["x_adv"][k] - x).abs().max() <= e * (1 + 1e-5)
    env = envelope(res)
    acc = accuracy(env["correct"])
    assert all(a >= b for a, b in zip(acc, acc[1:])), acc
    assert acc[-1] < acc[0]
    for k, e in enumerate(eps):  # the envelope's points still lie inside each bound
        assert (env["x_adv"][k] - x).abs().max() <= e * (1 + 1e-5)
        pred = model(env["x_adv"][k]).argmax(1)
        assert torch.equal(pred == y, env["correct"][k])


def test_step_size_grid_search_and_cm_pick():
    x, y = toy_problem()
    model = trained_model(x, y)
    eps = [1e-4, 5e-4]
    alphas, grid = choose_step_sizes(model, x, y, eps, ratios=(0.01, 0.25), steps=10)
    for k, e in enumerate(eps):
        best = min(grid[r][k] for r in grid)
        chosen = [r for r in grid if abs(r * e - alphas[k]) < 1e-12][0]
        assert grid[chosen][k] == best
    assert pick_cm_index([95.0, 70.0, 30.0, 2.0]) == (1, True) or pick_cm_index([95.0, 70.0, 30.0, 2.0]) == (2, True)
    assert pick_cm_index([95.0, 90.0, 5.0]) == (1, False)


def test_the_course_loop_equals_the_engine_pgd():
    """attack_classifier keeps the starter's explicit loop (standalone); it computes what common.attacks.pgd does."""
    from common.attacks import pgd

    x, y = toy_problem()
    model = trained_model(x, y)
    for eps, lr, steps in ((2e-4, 5e-5, 10), (1e-3, 1e-3 / 3, 4)):
        course = attack_classifier(model, [(x[:48], y[:48]), (x[48:], y[48:])], nn.CrossEntropyLoss(), eps,
                                   num_pgd_steps=steps, lr=lr, details=True)
        engine = pgd(model, x, y, epsilon=eps, step_size=lr, steps=steps, loss_fn=nn.CrossEntropyLoss())
        # Same steps; only where the sum x + perturbation is rounded differs (the course keeps the perturbation).
        torch.testing.assert_close(course.x_adv, engine, rtol=0, atol=1e-9)
        assert torch.equal(course.adv_pred, model(engine).argmax(1))
        assert (engine - x).abs().max() > eps / 2  # the attack moved: the equality is not between two no-ops
