"""Evaluation step functions for the engine and the attack visualisation.

* :func:`flip_eval_step`: average the logits of an image and its mirror (``-e``).
* :func:`attack_eval_step`: clean and PGD-attacked top-1/top-5 in one pass (``-a``).
* :func:`visualise_attack`: TensorBoard ``Org_Image``/``Adv_Image`` and a PNG grid (``-v``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from common.engine import StepResult
from common.meters import topk_correct
from common.modules import eval_mode, unwrap
from common.plotting import plot_image_grid

from miniplaces.attack import LeastLikelyPGD, to_pixels, vis_grid


def flip_eval_step(model, batch) -> StepResult:
    """Horizontal-flip test-time averaging as in the course: the mean of the two logit vectors."""
    images, targets = batch[0], batch[1]
    logits = 0.5 * (model(images) + model(images.flip(3)))
    return StepResult(F.cross_entropy(logits, targets), logits, targets)


def attack_eval_step(attacker: LeastLikelyPGD):
    """A step function reporting attacked loss/top-k, plus clean top-k as ``acc*_clean`` sums."""

    def step(model, batch) -> StepResult:
        model = unwrap(model)  # attack the bare model: DDP would expect a full backward
        images, targets = batch[0], batch[1]
        adv = attacker.perturb(model, images)
        clean = model(images)
        attacked = model(adv)
        sums = {f"{k}_clean": v for k, v in topk_correct(clean, targets, (1, 5)).items()}
        sums["linf"] = (adv - images).flatten(1).abs().amax(1).sum()
        return StepResult(F.cross_entropy(attacked, targets), attacked, targets, sums=sums)

    return step


@torch.no_grad()
def visualise_attack(model, attacker: LeastLikelyPGD, images, targets, class_names, run, *, data: str,
                     n: int = 10) -> None:
    """Log clean/adversarial grids to TensorBoard and save a labelled PNG (clean row, attacked row)."""
    images, targets = images[:n], targets[:n]
    adv = attacker.perturb(model, images)
    with eval_mode(model):
        pred_clean, pred_adv = model(images).argmax(1).tolist(), model(adv).argmax(1).tolist()
    run.tb.add_image("Org_Image", vis_grid(images, n_rows=n), 0)
    run.tb.add_image("Adv_Image", vis_grid(adv, n_rows=n), 0)
    diff = (adv - images).abs().amax(1, keepdim=True)  # (n, 1, H, W) per-pixel L-inf change
    diff = diff / diff.amax().clamp_min(1e-12)
    pictures = [im.permute(1, 2, 0).cpu().numpy() for im in to_pixels(images)]
    pictures += [im.permute(1, 2, 0).cpu().numpy() for im in to_pixels(adv)]
    pictures += [d[0].cpu().numpy() for d in diff]
    short = lambda k: class_names[k][:18]  # noqa: E731
    titles = [f"true {short(t)}\npred {short(p)}" for t, p in zip(targets.tolist(), pred_clean)]
    titles += [f"adv pred {short(p)}" + (" (changed)" if p != c else "") for p, c in zip(pred_adv, pred_clean)]
    titles += [""] * len(diff)  # the row label says what these are
    plot_image_grid(pictures, titles, run.figure_path("adversarial_samples"),
                    title=f"PGD: clean (row 1), attacked (row 2), perturbation (row 3); {attacker}",
                    caption=f"Least-likely-target L-inf PGD, epsilon {attacker.epsilon} in normalised units; "
                            f"data: {data}.", ncols=len(images),
                    row_labels=["clean", "attacked", "|adv - clean|\n(white = max)"])
