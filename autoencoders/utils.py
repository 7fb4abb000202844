"""The starter's helpers: ``plot_tsne``, fixed (it never imported pyplot and wrote into the cwd),
and ``freeze_seeds`` (defined in the starter's main.py; ``autoencoders.main`` re-exports it).

It embeds an encoder's latent codes and the raw input pixels with t-SNE and draws both
side by side, coloured by class with a class-name legend.  The starter's call
``plot_tsne(model, dataloader, device)`` works unchanged: the figure then goes to
``./tsne_plots/`` and the path is printed.  Our runs pass the run's figures folder.
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from common.predict import collect  # noqa: E402
from common.plotting import save_figure, scatter_tsne  # noqa: E402


def freeze_seeds(seed: int = 0) -> None:
    """The starter's ``freeze_seeds(args.seed)``: seed python's, numpy's and torch's generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@torch.no_grad()
def collect_codes(model: torch.nn.Module, dataloader, device, max_points: int = 2000):
    """(latents (N, L), images (N, C*H*W), labels (N,)) on the CPU for the first ``max_points`` samples.

    ``dataloader`` yields ``(images, labels, ...)``; the model runs in eval mode and its
    previous mode is restored afterwards.
    """
    latents, labels, images = collect(model, dataloader, device=device, fn=lambda z: z.float().flatten(1),
                                      limit=max_points, keep_inputs=True)
    return latents.numpy(), images.float().flatten(1).numpy(), labels.numpy()  # latents (N, L), images (N, C*H*W)


STARTER_OUT_DIR = "tsne_plots"  # where the starter's three-argument call writes (printed)


def plot_tsne(model: torch.nn.Module, dataloader, device, out_dir: str | os.PathLike | None = None, *,
              name: str = "encoder", class_names: Sequence[str] | None = None, title: str | None = None,
              data_label: str = "", max_points: int = 2000, seed: int = 0) -> Path:
    """t-SNE of ``model``'s latent space next to t-SNE of the image space; returns the PNG path.

    Args:
        model: the encoder, images (B, C, H, W) -> codes (B, L).
        dataloader: yields ``(images, labels)`` (normalised images, as the encoder sees them).
        device: where the encoder lives (``torch.device`` or a string such as ``'cpu'``, as the starter passes).
        out_dir: directory for ``tsne_<name>.png`` (created if missing).  Omitted, as in the starter's
            call, it is ``./tsne_plots/`` and the written path is printed.
        name: file-name stem and default title.
        class_names: legend labels, index = class id (default "0", "1", ...).
        data_label: what data this is (shown in the caption).
        max_points: how many samples to embed (t-SNE is O(N log N) but slow on a CPU).
    """
    latents, images, labels = collect_codes(model, dataloader, device, max_points)
    names = list(class_names) if class_names is not None else [str(c) for c in range(int(labels.max()) + 1)]
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.8))
    scatter_tsne(axes[0], latents, labels, names, seed=seed, max_points=max_points,
                 title=f"latent space ({latents.shape[1]}-d codes)")
    scatter_tsne(axes[1], images, labels, names, seed=seed, max_points=max_points,
                 title=f"image space ({images.shape[1]}-d pixels)")
    fig.suptitle(title or f"t-SNE: {name}")
    caption = (f"t-SNE of {len(labels)} test samples, coloured by class: latent codes of the encoder (left) vs raw "
               f"normalised pixels (right)" + (f"; data: {data_label}" if data_label else "") + ".")
    out = Path(STARTER_OUT_DIR if out_dir is None else out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = save_figure(fig, out / f"tsne_{name}.png", caption)
    if out_dir is None:
        print(f"plot_tsne: wrote {path.resolve()}", flush=True)
    return path
