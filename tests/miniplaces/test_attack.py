"""PGDAttack: epsilon ball, normalised pixel box, least-likely loss decreases, no .grad leak; the course's
standalone copy gives exactly what the engine's PGD (``LeastLikelyPGD``, used by main.py) gives."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from common.attacks import normalized_box, pgd
from miniplaces.attack import LeastLikelyPGD
from miniplaces.custom_transforms import IMAGENET_MEAN, IMAGENET_STD
from miniplaces.student_code import PGDAttack, default_attack, vis_grid

MEAN = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
STD = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


def _tiny_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Dropout(0.2),
                         nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, 5))


def _images(n=6, size=8) -> torch.Tensor:
    pixels = torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(1))
    pixels[:, :, 0, 0] = 0.0  # some pixels on the box edges
    pixels[:, :, 1, 1] = 1.0
    return (pixels - MEAN) / STD


def test_stays_in_epsilon_ball_and_pixel_box():
    model, x = _tiny_model(), _images()
    adv = PGDAttack(nn.CrossEntropyLoss(), num_steps=5, step_size=0.05, epsilon=0.1).perturb(model, x)
    assert adv.shape == x.shape and not adv.requires_grad
    assert (adv - x).abs().max() <= 0.1 + 1e-6
    assert (adv - x).abs().max() > 0.05  # it moved
    pixels = adv * STD + MEAN
    assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5
    # Normalised values below 0 are legal (clamping to [0,1] in normalised space would be the bug).
    assert (adv < 0).any()


def test_decreases_least_likely_loss_and_keeps_model_clean():
    model, x = _tiny_model(), _images()
    model.train()
    least = model.eval()(x).argmin(1)
    model.train()
    for p in model.parameters():
        p.grad = None
    adv = default_attack(nn.CrossEntropyLoss()).perturb(model, x)
    assert model.training and all(m.training for m in model.modules())
    assert all(p.grad is None for p in model.parameters())
    model.eval()
    with torch.no_grad():
        before = F.cross_entropy(model(x), least, reduction="none")
        after = F.cross_entropy(model(adv), least, reduction="none")
    assert (after < before).all(), (before, after)


def test_reduces_accuracy_of_a_trained_model():
    """A small linear model trained on separable data loses accuracy under the attack."""
    gen = torch.Generator().manual_seed(0)
    protos = torch.randn(4, 3, 4, 4, generator=gen) * 0.2
    labels = torch.arange(4).repeat(16)
    x = protos[labels] + 0.05 * torch.randn(64, 3, 4, 4, generator=gen)
    model = nn.Sequential(nn.Flatten(), nn.Linear(48, 4))
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(100):
        opt.zero_grad()
        F.cross_entropy(model(x), labels).backward()
        opt.step()
    clean = (model(x).argmax(1) == labels).float().mean()
    adv = PGDAttack(nn.CrossEntropyLoss(), num_steps=10, step_size=0.05, epsilon=0.3).perturb(model, x)
    attacked = (model(adv).argmax(1) == labels).float().mean()
    assert clean > 0.95 and attacked < clean - 0.5


def test_vis_grid_returns_pixel_grid():
    grid = vis_grid(_images(n=4), n_rows=2)
    assert grid.shape[0] == 3 and grid.min() >= 0 and grid.max() <= 1


@pytest.mark.parametrize("train_mode", [False, True])
def test_the_course_copy_equals_the_engine_pgd_bit_for_bit(train_mode):
    """student_code.PGDAttack stays standalone (the hand-in); main.py's -a and --adv-train run LeastLikelyPGD,
    i.e. common.attacks.pgd.  On the same model and images all three return identical tensors."""
    model, x = _tiny_model(), _images(n=8)
    model.train(train_mode)  # --adv-train attacks from inside a training forward
    settings = {"num_steps": 7, "step_size": 0.03, "epsilon": 0.1}
    course = PGDAttack(nn.CrossEntropyLoss(), **settings).perturb(model, x)
    ours = LeastLikelyPGD(**settings).perturb(model, x)
    lower, upper = normalized_box(IMAGENET_MEAN, IMAGENET_STD)
    engine = pgd(model, x, epsilon=0.1, step_size=0.03, steps=7, mode="least_likely", loss_fn=F.cross_entropy,
                 lower=lower, upper=upper)
    assert torch.equal(course, ours) and torch.equal(ours, engine)
    assert (course - x).abs().max() > 0.05 and model.training == train_mode
    assert repr(LeastLikelyPGD(**settings)) == repr(PGDAttack(nn.CrossEntropyLoss(), **settings))  # metrics.json
