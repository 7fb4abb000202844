"""Report figures: reconstructions, latent interpolation, the six-encoder summary table."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from common.images import denormalize
from common.io import atomic_write_text
from common.modules import eval_mode
from common.plotting import markdown_table, plot_image_grid, plot_table

from autoencoders.models import AutoEncoder

SUMMARY_COLUMNS = ("dataset", "mode", "train acc (%)", "val acc (%)", "test acc (%)", "test MAE (pixels)", "data")


def _to_numpy_images(x: torch.Tensor) -> list:
    """(B, C, H, W) in [0, 1] -> list of (H, W) or (H, W, 3) arrays for plotting."""
    x = x.detach().float().clamp(0, 1).cpu()
    return [img[0].numpy() if img.shape[0] == 1 else img.permute(1, 2, 0).numpy() for img in x]


@torch.no_grad()
def plot_reconstructions(ae: AutoEncoder, x: torch.Tensor, labels: Sequence[str], mean: torch.Tensor,
                         std: torch.Tensor, path, *, title: str, data_label: str) -> Path:
    """Test images (top row) above their reconstructions (bottom row); ``x`` normalised (K, C, H, W)."""
    with eval_mode(ae):
        recon = ae(x).float()
    originals, recons = denormalize(x.float(), mean, std), denormalize(recon, mean, std).clamp(0, 1)
    mae = (recons - originals).abs().flatten(1).mean(1).tolist()
    titles = [f"{name}" for name in labels] + [f"MAE {m:.3f}" for m in mae]
    return plot_image_grid(_to_numpy_images(originals) + _to_numpy_images(recons), titles, path,
                           title=title, ncols=len(x), row_labels=["original", "reconstruction"],
                           caption=f"{len(x)} random test images and their reconstructions; MAE in [0, 1] "
                                   f"pixel units; data: {data_label}.")


@torch.no_grad()
def plot_interpolation(ae: AutoEncoder, x_a: torch.Tensor, x_b: torch.Tensor, mean: torch.Tensor,
                       std: torch.Tensor, path, *, names: tuple[str, str], title: str, data_label: str,
                       steps: int = 10) -> Path:
    """Decode ``steps`` points on the line between two encodings; originals shown at both ends."""
    with eval_mode(ae):
        z = ae.encoder(torch.stack([x_a, x_b]))  # (2, L)
        alphas = torch.linspace(0, 1, steps, device=z.device)
        path_z = (1 - alphas)[:, None] * z[0] + alphas[:, None] * z[1]  # (steps, L)
        decoded = denormalize(ae.decoder(path_z).float(), mean, std)
    originals = denormalize(torch.stack([x_a, x_b]).float(), mean, std)
    images = _to_numpy_images(originals[:1]) + _to_numpy_images(decoded) + _to_numpy_images(originals[1:])
    titles = [f"input {names[0]}"] + [f"alpha={a:.2f}" for a in alphas.tolist()] + [f"input {names[1]}"]
    return plot_image_grid(images, titles, path, title=title, ncols=6,
                           caption=f"Decoder output along z = (1 - alpha) z_A + alpha z_B, {steps} steps between "
                                   f"two test encodings (inputs at the ends); data: {data_label}.")


def summary_rows(results: Sequence[dict]) -> list[dict]:
    """One table row per (dataset, mode) from the per-experiment metrics."""
    return [{"dataset": r["dataset"], "mode": r["mode"], "train acc (%)": r.get("train_acc1"),
             "val acc (%)": r.get("val_acc1"), "test acc (%)": r.get("test_acc1"),
             "test MAE (pixels)": None if r.get("test_mae") is None else f"{r['test_mae']:.4f}",
             "data": r["data"]} for r in results]


def write_summary(results: Sequence[dict], out_dir: Path, figures_dir: Path) -> tuple[Path, Path]:
    """``summary.md`` in ``out_dir`` and ``summary_table.png`` in ``figures_dir``."""
    rows = summary_rows(results)
    md = ("# Autoencoder experiments: accuracy of the classifier on each encoder\n\n"
          "MAE: reconstruction mean absolute error in [0, 1] pixel units (self-supervised autoencoders only).\n\n"
          + markdown_table(rows, SUMMARY_COLUMNS))
    md_path = atomic_write_text(out_dir / "summary.md", md)
    labels = sorted({r["data"] for r in results})
    png = plot_table(rows, [c for c in SUMMARY_COLUMNS if c != "data"], figures_dir / "summary_table.png",
                     title="Classifier accuracy per encoder", caption="data: " + "; ".join(labels))
    return md_path, png
