"""Decoded views of attacks (handout item 9 and the bonus): clean image, perturbation, perturbed image.

An attack *succeeded* on a sample the clean model got right when the perturbed vector is
misclassified, and *failed* when it is still classified correctly.  The perturbation panel
is ``vec_to_img`` of the perturbation vector itself, as the handout asks; a fourth column
adds decoded(perturbed) - decoded(clean), which shows what the attack did to the image.
"""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch

from common.plotting import save_figure

from functaset.utils import vec_to_img


@dataclass(frozen=True)
class Example:
    cls: int
    succeeded: bool
    index: int  # sample index in the attacked split
    bound: int  # index of the L-inf bound whose attack is shown


def pick_examples(labels: torch.Tensor, clean_ok: torch.Tensor, correct: torch.Tensor, start: int,
                  n_classes: int) -> list[Example]:
    """A succeeded and a failed attack for each of ``n_classes`` classes, at bound ``start`` when possible.

    ``correct`` is ``(E, N)`` (still classified correctly under attack at each bound).  Classes
    with both outcomes at ``start`` come first; a class lacking one outcome there takes it
    from the nearest bound that has it (the row says which bound).  Only samples the clean
    model classifies correctly are used.
    """
    order = sorted(range(correct.shape[0]), key=lambda k: (abs(k - start), -k))  # start, then nearest

    def first(c: int, succeeded: bool, bounds) -> Example | None:
        for k in bounds:
            hits = torch.nonzero((labels == c) & clean_ok & (correct[k] != succeeded)).flatten()
            if len(hits):
                return Example(c, succeeded, int(hits[0]), k)
        return None

    classes = labels.unique().tolist()
    both_at_start = [c for c in classes if first(c, True, [start]) and first(c, False, [start])]
    rows: list[Example] = []
    for c in both_at_start + [c for c in classes if c not in both_at_start]:
        pair = first(c, True, order), first(c, False, order)
        if None not in pair:
            rows += pair
        if len(rows) == 2 * n_classes:
            break
    return rows


def fallback_note(rows: list[Example], start: int, bound_names: list[str], names, n_classes: int) -> str:
    """Caption text for every row not at the chosen bound, and for missing classes."""
    moved = [f"{names[r.cls]} {'success' if r.succeeded else 'failure'} at eps={bound_names[r.bound]}"
             for r in rows if r.bound != start]
    note = f" Not found at eps={bound_names[start]}, taken from the nearest bound: {'; '.join(moved)}." if moved else ""
    if len(rows) < 2 * n_classes:
        note += f" Only {len(rows) // 2} class(es) have both a successful and a failed attack at any bound."
    return note


def decoded_panels(inr, clean_vec: torch.Tensor, adv_vec: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``(H, W)`` images: clean, the perturbation vector decoded on its own, perturbed, perturbed - clean."""
    clean, pert_img, perturbed = vec_to_img(inr, torch.stack([clean_vec, adv_vec - clean_vec, adv_vec]))
    return clean, pert_img, perturbed, perturbed - clean


def plot_attack_examples(inr, x, x_adv, labels, adv_pred, rows: list[Example], names, path, *,
                         bound_names: list[str], start: int, n_classes: int, data: str, title: str) -> None:
    """One row per example; columns: clean, vec_to_img(perturbation), perturbed, decoded difference.

    ``x_adv`` is ``(E, N, D)`` and ``adv_pred`` ``(E, N)``: every bound's attack, so a row can
    come from a fallback bound.
    """
    fig, axes = plt.subplots(len(rows), 4, figsize=(9.2, 2.45 * len(rows) + 1.0), squeeze=False)
    for ax_row, r in zip(axes, rows):
        delta = x_adv[r.bound, r.index] - x[r.index]
        clean, pert_img, perturbed, diff = decoded_panels(inr, x[r.index], x_adv[r.bound, r.index])
        lim = float(diff.abs().max().clamp_min(1e-8))
        panels = [(clean, dict(cmap="gray", vmin=0, vmax=1), f"clean: {names[r.cls]}"),
                  (pert_img, dict(cmap="gray"), f"vec_to_img(perturbation)\n|d|inf={delta.abs().max():.2g}"),
                  (perturbed, dict(cmap="gray", vmin=0, vmax=1),
                   f"perturbed -> {names[int(adv_pred[r.bound, r.index])]}"),
                  (diff, dict(cmap="RdBu_r", vmin=-lim, vmax=lim), f"perturbed - clean\n(+-{lim:.2g})")]
        for ax, (img, style, text) in zip(ax_row, panels):
            ax.imshow(img.numpy(), **style)
            ax.set_title(text, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        outcome = "attack succeeded" if r.succeeded else "attack failed"
        ax_row[0].set_ylabel(f"class {names[r.cls]}\n{outcome}\neps={bound_names[r.bound]}", fontsize=8)
    fig.suptitle(title)
    note = fallback_note(rows, start, bound_names, names, n_classes)
    caption = (f"Decoded with vec_to_img. Grey panels 1 and 3 on a fixed 0-1 scale; panel 2 (the decoded "
               f"perturbation vector) auto-scaled; panel 4 blue/red = darker/brighter.{note} Data: {data}.")
    save_figure(fig, path, caption)
