"""Report figures: reconstructions, latent interpolation, the six-encoder summary table."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from common.images import denormalize
from common.io import atomic_write_json, atomic_write_text
from common.modules import eval_mode
from common.plotting import markdown_table, plot_image_grid, plot_table, save_figure

from autoencoders.models import AutoEncoder

SUMMARY_COLUMNS = ("dataset", "mode", "train acc (%)", "val acc (%)", "test acc (%)", "linear probe test acc (%)",
                   "test MAE (pixels)", "data")
# Per-mode numbers averaged over seeds: (metric key, column name).
SEED_METRICS = (("train_acc1", "train acc"), ("val_acc1", "val acc"), ("test_acc1", "test acc"),
                ("probe_train_acc1", "probe train"), ("probe_val_acc1", "probe val"),
                ("probe_test_acc1", "probe test"), ("test_mae", "test MAE (pixels)"))


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


def interpolation_pair(classes: Sequence[int]) -> tuple[int, int]:
    """Indices of the pair to interpolate among the reconstructed images (handout item 4).

    The first image and the first later one of another class (a 7 -> 1 path says more than
    7 -> 7); the first two when all share a class.
    """
    other = next((i for i, c in enumerate(classes) if c != classes[0]), 1)
    return 0, other


@torch.no_grad()
def plot_interpolation(ae: AutoEncoder, x_a: torch.Tensor, x_b: torch.Tensor, mean: torch.Tensor,
                       std: torch.Tensor, path, *, names: tuple[str, str], title: str, data_label: str,
                       steps: int = 10) -> Path:
    """Decode ``steps`` points on the line between two encodings, in one row with the inputs at both ends."""
    with eval_mode(ae):
        z = ae.encoder(torch.stack([x_a, x_b]))  # (2, L)
        alphas = torch.linspace(0, 1, steps, device=z.device)
        path_z = (1 - alphas)[:, None] * z[0] + alphas[:, None] * z[1]  # (steps, L)
        decoded = denormalize(ae.decoder(path_z).float(), mean, std)
    originals = denormalize(torch.stack([x_a, x_b]).float(), mean, std)
    images = _to_numpy_images(originals[:1]) + _to_numpy_images(decoded) + _to_numpy_images(originals[1:])
    titles = [f"input A\n{names[0]}"] + [f"decoded\na={a:.2f}" for a in alphas.tolist()] + [f"input B\n{names[1]}"]
    import matplotlib.pyplot as plt  # common.plotting has selected the Agg backend

    fig, axes = plt.subplots(1, len(images), figsize=(1.3 * len(images), 2.5))
    for ax, img, text in zip(axes, images, titles):
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1)
        ax.set_title(text, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title)
    return save_figure(fig, path, f"Self-supervised decoder output for z = (1 - a) z_A + a z_B, {steps} steps; "
                                  f"A and B are two of the 5 reconstructed test images; data: {data_label}.")


def summary_rows(results: Sequence[dict]) -> list[dict]:
    """One table row per (dataset, mode) from the per-experiment metrics."""
    return [{"dataset": r["dataset"], "mode": r["mode"], "train acc (%)": r.get("train_acc1"),
             "val acc (%)": r.get("val_acc1"), "test acc (%)": r.get("test_acc1"),
             "linear probe test acc (%)": r.get("probe_test_acc1"),
             "test MAE (pixels)": None if r.get("test_mae") is None else f"{r['test_mae']:.4f}",
             "data": r["data"]} for r in results]


def write_summary(results: Sequence[dict], out_dir: Path, figures_dir: Path) -> tuple[Path, Path]:
    """``summary.md`` in ``out_dir`` and ``summary_table.png`` in ``figures_dir``."""
    rows = summary_rows(results)
    md = ("# Autoencoder experiments: accuracy of the classifier on each encoder\n\n"
          "MAE: reconstruction mean absolute error in [0, 1] pixel units (self-supervised autoencoders only). "
          "Linear probe: logistic regression on the frozen codes.\n\n"
          + markdown_table(rows, SUMMARY_COLUMNS))
    md_path = atomic_write_text(out_dir / "summary.md", md)
    labels = sorted({r["data"] for r in results})
    png = plot_table(rows, [c for c in SUMMARY_COLUMNS if c != "data"], figures_dir / "summary_table.png",
                     title="Classifier accuracy per encoder", caption="data: " + "; ".join(labels))
    return md_path, png


def seed_summary(runs: Sequence[dict], out_dir: Path) -> dict:
    """Mean and sample std (n - 1) over seeds of every (mode, metric); writes metrics.json, summary.md, a PNG.

    ``runs`` are the flat metrics of one dataset's runs (``<dataset>_<mode>_<metric>`` keys), one per seed.
    """
    out_dir = Path(out_dir)
    data = runs[0]["data"]
    flat, rows = {"seeds": len(runs), "data": data}, []
    prefixes = [k[:-len("_test_acc1")] for k in runs[0] if k.endswith("_test_acc1") and "_probe_" not in k]
    for prefix in prefixes:  # <dataset>_<mode>
        row = {"encoder": prefix}
        for key, column in SEED_METRICS:
            values = [r[f"{prefix}_{key}"] for r in runs if f"{prefix}_{key}" in r]
            if not values:
                continue
            mean, std = float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
            flat[f"{prefix}_{key}_mean"], flat[f"{prefix}_{key}_std"] = mean, std
            digits = 4 if key == "test_mae" else 1
            row[column] = f"{mean:.{digits}f}" + (f" +- {std:.{digits}f}" if len(runs) > 1 else "")
        rows.append(row)
    columns = ["encoder"] + [c for _, c in SEED_METRICS]
    atomic_write_json(out_dir / "metrics.json", flat)
    atomic_write_text(out_dir / "summary.md", f"# Mean +- std over {len(runs)} seed(s) (n - 1)\n\n"
                      "Accuracy (%) of the MLP head on each encoder and of a linear probe (logistic regression) on "
                      f"its frozen codes; data: {data}.\n\n" + markdown_table(rows, columns))
    plot_table(rows, columns, out_dir / "figures" / "seed_summary.png",
               title=f"Accuracy (%) per encoder, mean +- std over {len(runs)} seed(s)",
               caption=f"Top-1 accuracy (%) of the MLP head and of a linear probe per encoder; data: {data}.")
    return flat


STAGE_PANELS = (  # (curve keys, y label, panel title)
    (("selfsup_ae",), "val MAE (pixels)", "1.2.1 autoencoder"),
    (("contrastive_contrastive",), "val positive retrieval top-1 (%)", "1.2.3 SimCLR pre-training"),
    (("guided_joint",), "val top-1 (%)", "1.2.2 joint encoder + head"),
    (("selfsup_clf", "contrastive_clf"), "val top-1 (%)", "heads on frozen encoders"),
)
CURVE_LABELS = {"selfsup_ae": "autoencoder", "contrastive_contrastive": "SimCLR", "guided_joint": "joint",
                "selfsup_clf": "head on 1.2.1 encoder", "contrastive_clf": "head on 1.2.3 encoder"}


def plot_stage_curves(curves: dict, path, *, dataset: str, data_label: str) -> Path:
    """The monitored validation metric of every training stage per epoch (one panel per kind)."""
    import matplotlib.pyplot as plt  # common.plotting has selected the Agg backend

    fig, axes = plt.subplots(1, len(STAGE_PANELS), figsize=(4.0 * len(STAGE_PANELS), 3.4))
    for ax, (keys, ylabel, title) in zip(axes, STAGE_PANELS):
        for key in keys:
            values = [np.nan if v is None else v for v in curves.get(key) or []]
            ax.plot(range(1, len(values) + 1), values, "-o", ms=2, label=CURVE_LABELS[key])
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"Validation curves of every training stage ({dataset}, seed 0)")
    return save_figure(fig, path, "Per-epoch validation metric each stage monitors (cosine LR schedules); flat "
                                  f"ends = trained to a plateau; data: {data_label}.")
