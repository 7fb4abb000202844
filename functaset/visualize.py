"""Decoded views of attacks: clean image, perturbation and perturbed image, via the SIREN.

An attack *succeeded* on a sample the clean model got right when the perturbed vector is
misclassified, and *failed* when it is still classified correctly.
"""
from __future__ import annotations

import torch

from common.plotting import plot_image_grid

from functaset.utils import vec_to_img


def examples_by_class(labels: torch.Tensor, clean_ok: torch.Tensor, adv_ok: torch.Tensor) -> dict[int, tuple[int, int]]:
    """``{class: (index of a success, index of a failure)}`` for classes that have both."""
    out = {}
    for c in labels.unique().tolist():
        mine = (labels == c) & clean_ok
        succeeded = torch.nonzero(mine & ~adv_ok).flatten()
        failed = torch.nonzero(mine & adv_ok).flatten()
        if len(succeeded) and len(failed):
            out[c] = (int(succeeded[0]), int(failed[0]))
    return out


def _triplet(inr, x: torch.Tensor, x_adv: torch.Tensor) -> list[torch.Tensor]:
    clean, perturbed = vec_to_img(inr, x), vec_to_img(inr, x_adv)
    return [clean.clamp(0, 1), perturbed - clean, perturbed.clamp(0, 1)]


def plot_attack_examples(inr, x, x_adv, labels, adv_pred, picks: dict[int, tuple[int, int]], names, path, *,
                         eps_text: str, data: str, title: str) -> None:
    """Rows: (class, succeeded/failed); columns: clean, perturbation (image difference), perturbed."""
    images, titles, rows = [], [], []
    for c, (ok_idx, fail_idx) in picks.items():
        for outcome, i in (("attack succeeded", ok_idx), ("attack failed", fail_idx)):
            clean, diff, perturbed = _triplet(inr, x[i], x_adv[i])
            linf = (x_adv[i] - x[i]).abs().max().item()
            images += [clean, diff, perturbed]
            titles += [f"clean: {names[c]}", f"perturbation (max |d|={diff.abs().max():.2g})",
                       f"perturbed -> {names[int(adv_pred[i])]}"]
            rows.append(f"{names[c]}\n{outcome}\n|dv|inf={linf:.2g}")
    plot_image_grid(images, titles, path, ncols=3, row_labels=rows, title=title,
                    caption=f"Vectors decoded by the SIREN; middle column: decoded(perturbed) - decoded(clean), "
                            f"auto-scaled grey; L-inf bound {eps_text}; data: {data}.")
