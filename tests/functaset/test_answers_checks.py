"""Numerical checks of claims made in functaset/ANSWERS.md."""
import torch
import torch.nn as nn

from functaset.attack import attack_classifier


def test_template_bug_recreating_the_delta_runs_only_one_step():
    """The course template re-created the perturbation with .detach() inside the loop, while its
    optimizer kept the *old* tensor: every later step restarts from that stale tensor, so ten
    steps move the perturbation exactly as far as one."""
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))

    def template(steps):
        delta = torch.zeros_like(x, requires_grad=True)
        opt = torch.optim.SGD([delta], lr=0.01)
        for _ in range(steps):
            loss = -nn.functional.cross_entropy(model(x + delta), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            delta = delta.clamp(-1, 1).detach().requires_grad_(True)  # the bug: opt still holds the old tensor
        return delta

    torch.testing.assert_close(template(10), template(1))


def test_mean_or_sum_criterion_gives_the_same_signed_steps():
    """A criterion's reduction only rescales the gradient, so sign steps are identical."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
    x, y = torch.randn(20, 6), torch.randint(0, 3, (20,))
    mean = attack_classifier(model, [(x, y)], nn.CrossEntropyLoss(), 0.1, details=True)
    summed = attack_classifier(model, [(x, y)], nn.CrossEntropyLoss(reduction="sum"), 0.1, details=True)
    torch.testing.assert_close(mean.x_adv, summed.x_adv)
