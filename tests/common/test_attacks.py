"""PGD/FGSM properties: ball and box, direction, no .grad leakage, modes, per-sample epsilons."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from common.attacks import fgsm, normalized_box, pgd, project


def model_and_data(seed=0, vectors=False):
    torch.manual_seed(seed)
    if vectors:
        model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 5))
        x = torch.randn(24, 16)
    else:
        model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                              nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5))
        x = torch.rand(24, 3, 8, 8)
    model.eval()
    return model, x, torch.randint(0, 5, (24,))


@pytest.mark.parametrize("vectors", [False, True])
def test_stays_in_ball_and_box_and_raises_loss(vectors):
    model, x, y = model_and_data(vectors=vectors)
    lo, hi = (None, None) if vectors else (0.0, 1.0)
    adv = pgd(model, x, y, epsilon=0.05, step_size=0.01, steps=10, random_start=True, lower=lo, upper=hi)
    assert (adv - x).abs().max() <= 0.05 + 1e-6
    if not vectors:
        assert adv.min() >= 0 and adv.max() <= 1
    with torch.no_grad():
        assert F.cross_entropy(model(adv), y) > F.cross_entropy(model(x), y)
    assert not adv.requires_grad


def test_least_likely_descends_that_labels_loss():
    model, x, _ = model_and_data()
    with torch.no_grad():
        target = model(x).argmin(1)
        before = F.cross_entropy(model(x), target, reduction="none")
    adv = pgd(model, x, epsilon=0.1, step_size=0.02, steps=10, mode="least_likely")
    with torch.no_grad():
        after = F.cross_entropy(model(adv), target, reduction="none")
    assert (after < before).float().mean() > 0.9


def test_model_grad_untouched_and_modes_restored():
    model, x, y = model_and_data()
    model.train()
    model[1].eval()  # a mixed state must come back exactly as it was
    for p in model.parameters():
        p.grad = torch.full_like(p, 7.0)
    pgd(model, x, y, epsilon=0.03, step_size=0.01, steps=3)
    assert all(torch.all(p.grad == 7.0) for p in model.parameters())
    assert [m.training for m in model.modules()] == [True, True, False, True, True, True, True]


def test_per_sample_epsilons_equal_separate_runs():
    model, x, y = model_and_data(vectors=True)
    eps = torch.tensor([0.01, 0.1, 0.3]).repeat_interleave(8)
    batched = pgd(model, x, y, epsilon=eps, step_size=eps / 4, steps=5)
    for e in (0.01, 0.1, 0.3):
        rows = eps == e
        single = pgd(model, x[rows], y[rows], epsilon=e, step_size=e / 4, steps=5)
        torch.testing.assert_close(batched[rows], single)


def test_fgsm_is_one_full_step_and_box_is_normalised_pixels():
    model, x, y = model_and_data()
    x.requires_grad_(True)
    grad, = torch.autograd.grad(F.cross_entropy(model(x), y, reduction="sum"), x)
    expected = (x + 0.02 * grad.sign()).detach()
    torch.testing.assert_close(fgsm(model, x.detach(), y, epsilon=0.02), expected)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    lo, hi = normalized_box(mean, std)
    pixels = torch.tensor([[0.0, 1.0]]).expand(3, 2)
    normed = (pixels - torch.tensor(mean)[:, None]) / torch.tensor(std)[:, None]
    torch.testing.assert_close(lo.flatten(), normed[:, 0])
    torch.testing.assert_close(hi.flatten(), normed[:, 1])


def test_box_only_projection_is_the_clamp_the_alexnet_attack_used():
    """alexnet_rnn.adversarial projects x + r into the pixel box with project(eps=None): exactly clamp(0, 1)."""
    x_adv = torch.randn(4, 3, 5, 5, generator=torch.Generator().manual_seed(0)) * 2
    assert torch.equal(project(x_adv, torch.zeros_like(x_adv), None, 0.0, 1.0), x_adv.clamp(0, 1))
