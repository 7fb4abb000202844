"""Figures people can read: every helper sets a title, axis labels, grid, legend and a caption.

All helpers write a PNG (Agg backend, no display needed) and record the one-line
caption both under the figure and in ``captions.json`` beside it, which the demo's
REPORT.md picks up.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import numpy as np  # noqa: E402

from .io import atomic_write, atomic_write_json, read_json  # noqa: E402


def save_figure(fig, path: str | os.PathLike, caption: str) -> Path:
    """Add the caption under the figure, save atomically as PNG, close, record the caption."""
    path = Path(path)
    text = fig.text(0.5, 0.005, caption, ha="center", va="bottom", fontsize=8, wrap=True, style="italic")
    # Reserve the caption's wrapped height (measured), so it never runs into short figures' axes.
    top = text.get_window_extent(fig.canvas.get_renderer()).transformed(fig.transFigure.inverted()).y1
    fig.tight_layout(rect=(0, max(0.04, top + 0.01), 1, 1))
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
    captions = read_json(path.parent / "captions.json", {}) or {}
    captions[path.name] = caption
    atomic_write_json(path.parent / "captions.json", captions)
    return path


def _style(ax, title: str, xlabel: str, ylabel: str, legend: bool = True) -> None:
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)


def plot_training_curves(history: Sequence[dict], path, *, title: str, caption: str) -> Path:
    """Loss, learning rate and accuracies (train/val) per epoch, from the engine's history."""
    epochs = [h["epoch"] for h in history]
    panels = [("loss", "loss"), ("acc1", "top-1 accuracy (%)"), ("acc5", "top-5 accuracy (%)"),
              ("lr", "learning rate (end of epoch)")]
    panels = [(k, lab) for k, lab in panels if any(f"train_{k}" in h or f"val_{k}" in h for h in history)]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    for ax, (key, label) in zip(axes[0], panels):
        for split, style in (("train", "-o"), ("val", "-s")):
            values = [h.get(f"{split}_{key}") for h in history]
            if any(v is not None for v in values):
                ax.plot(epochs, [np.nan if v is None else v for v in values], style, ms=3, label=split)
        _style(ax, label, "epoch", label, legend=key != "lr")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(title)
    return save_figure(fig, path, caption)


def plot_overlaid_curves(series: dict[str, Sequence[float]], path, *, title: str, xlabel: str, ylabel: str,
                         caption: str, logy: bool = False, x: Sequence[float] | None = None,
                         integer_x: bool = True) -> Path:
    """Several named curves on one axis (e.g. custom vs torch conv loss per iteration).

    ``x`` gives shared x values (default 1..len); short curves get markers so a single
    point stays visible.
    """
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, values in series.items():
        xs = np.asarray(x if x is not None else np.arange(1, len(values) + 1))[: len(values)]
        ax.plot(xs, values, label=name, lw=1.2, marker="o" if len(values) <= 30 else None, ms=3)
    if logy:
        ax.set_yscale("log")
    if integer_x:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _style(ax, title, xlabel, ylabel)
    return save_figure(fig, path, caption)


def plot_grouped_bars(groups: Sequence[str], series: dict[str, tuple[Sequence[float], Sequence[float]]], path, *,
                      title: str, ylabel: str, caption: str, ylim: tuple[float, float] | None = None) -> Path:
    """Bars per group (x axis) for each named series, ``(means, stds)`` per series; stds as error bars.

    E.g. clean vs attacked accuracy (series) per model (groups), mean +- std over seeds.
    """
    fig, ax = plt.subplots(figsize=(max(6.5, 1.3 * len(groups) + 2), 4.2))
    width = 0.8 / max(len(series), 1)
    x = np.arange(len(groups))
    for i, (name, (means, stds)) in enumerate(series.items()):
        pos = x - 0.4 + width * (i + 0.5)
        bars = ax.bar(pos, means, width, yerr=stds, capsize=3, label=name)
        for bar, mean in zip(bars, means):
            ax.annotate(f"{mean:.1f}", (bar.get_x() + bar.get_width() / 2, mean), xytext=(0, 2),
                        textcoords="offset points", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, list(groups), fontsize=8)
    if ylim:
        ax.set_ylim(*ylim)
    _style(ax, title, "", ylabel)
    ax.grid(True, axis="y", alpha=0.3)
    ax.grid(False, axis="x")
    return save_figure(fig, path, caption)


def plot_accuracy_vs_epsilon(curves: dict[str, dict[float, float]], path, *, title: str, caption: str,
                             clean: dict[str, float] | None = None, xlabel: str = "L-inf bound epsilon") -> Path:
    """Accuracy against attack bound on a log x axis, clean accuracies as dashed reference lines."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for i, (name, acc_by_eps) in enumerate(curves.items()):
        eps = sorted(acc_by_eps)
        line, = ax.plot(eps, [acc_by_eps[e] for e in eps], "-o", ms=4, label=f"{name} (attacked)")
        if clean and name in clean:
            ax.axhline(clean[name], ls="--", color=line.get_color(), alpha=0.7, label=f"{name} (clean)")
    ax.set_xscale("log")
    ax.set_ylim(-2, 102)
    _style(ax, title, xlabel, "accuracy (%)")
    return save_figure(fig, path, caption)


def plot_confusion_matrix(y_true, y_pred, class_names: Sequence[str], path, *, title: str, caption: str,
                          normalize: bool = False) -> Path:
    """Labelled confusion matrix (rows: true class, columns: predicted), counts in each cell."""
    from sklearn.metrics import confusion_matrix

    n = len(class_names)
    cm = confusion_matrix(np.asarray(y_true), np.asarray(y_pred), labels=list(range(n)))
    shown = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    size = max(5.0, 0.45 * n + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(shown, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of row" if normalize else "count")
    ax.set_xticks(range(n), class_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), class_names, fontsize=8)
    if n <= 20:
        threshold = shown.max() / 2 if shown.max() > 0 else 1
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{cm[i, j]}", ha="center", va="center", fontsize=7,
                        color="white" if shown[i, j] > threshold else "black")
    _style(ax, title, "predicted class", "true class", legend=False)
    ax.grid(False)
    return save_figure(fig, path, caption)


def plot_image_grid(images, titles: Sequence[str], path, *, title: str, caption: str, ncols: int = 5,
                    cmap: str | None = None, row_labels: Sequence[str] | None = None) -> Path:
    """Images (N, H, W) or (N, H, W, 3) in [0, 1] (or any range for cmap plots), one title each."""
    images = [np.asarray(im) for im in images]
    n = len(images)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.1 * ncols, 2.3 * nrows + 0.4), squeeze=False)
    for idx, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if idx >= n:
            ax.axis("off")
            continue
        img = images[idx]
        gray = img.ndim == 2
        ax.imshow(img if gray else np.clip(img, 0, 1), cmap=cmap or ("gray" if gray else None))
        ax.set_title(titles[idx], fontsize=8)
        if row_labels and idx % ncols == 0:
            ax.set_ylabel(row_labels[idx // ncols], fontsize=8)
    fig.suptitle(title)
    return save_figure(fig, path, caption)


def plot_tsne(features, labels, class_names: Sequence[str], path, *, title: str, caption: str,
              seed: int = 0, max_points: int = 3000, ax_title: str | None = None) -> Path:
    """2-D t-SNE (sklearn) of ``features`` (N, D) coloured by class name."""
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    scatter_tsne(ax, features, labels, class_names, seed=seed, max_points=max_points, title=ax_title or title)
    fig.suptitle(title if ax_title else "")
    return save_figure(fig, path, caption)


def scatter_tsne(ax, features, labels, class_names: Sequence[str], *, seed: int = 0, max_points: int = 3000,
                 title: str = "t-SNE") -> None:
    """Draw a t-SNE embedding into ``ax`` (used for side-by-side latent vs image panels)."""
    from sklearn.manifold import TSNE

    features = np.asarray(features, dtype=np.float32).reshape(len(features), -1)
    labels = np.asarray(labels)
    if len(features) > max_points:
        keep = np.random.default_rng(seed).choice(len(features), max_points, replace=False)
        features, labels = features[keep], labels[keep]
    perplexity = float(min(30, max(5, (len(features) - 1) // 3)))
    emb = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(features)
    cmap = plt.get_cmap("tab10" if len(class_names) <= 10 else "tab20")
    for c, name in enumerate(class_names):
        mask = labels == c
        if mask.any():
            ax.scatter(emb[mask, 0], emb[mask, 1], s=6, color=cmap(c % cmap.N), label=name, alpha=0.8)
    ax.set_title(title)
    ax.set_xlabel("t-SNE dimension 1")
    ax.set_ylabel("t-SNE dimension 2")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, markerscale=2, loc="best", ncol=1 if len(class_names) <= 10 else 2)


def plot_table(rows: Sequence[dict], columns: Sequence[str], path, *, title: str, caption: str) -> Path:
    """A table of results rendered as a PNG (markdown versions are written by callers)."""
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(columns)), 0.5 * len(rows) + 1.5))
    ax.axis("off")
    cells = [[_fmt(r.get(c)) for c in columns] for r in rows]
    table = ax.table(cellText=cells, colLabels=list(columns), loc="center", cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.scale(1, 1.4)
    ax.set_title(title)
    return save_figure(fig, path, caption)


def markdown_table(rows: Sequence[dict], columns: Sequence[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e-2 and value != 0 else f"{value:.2f}"
    return "" if value is None else str(value)
