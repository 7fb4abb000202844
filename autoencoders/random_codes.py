"""Dry question 10, measured: is a trained autoencoder's decoder a generator of random codes?

    python -m autoencoders.random_codes --out DIR \
        --checkpoint <run>/digits_selfsup/autoencoder/models/checkpoint.pth.tar

Decodes 8 codes of each kind: real test codes, draws from N(0, I), and draws from a diagonal
Gaussian fitted to the training codes; writes ``figures/random_codes.png`` and
``metrics.json`` (per kind: mean pixel MAE from each decoded image to its nearest training
image, and the mean code norm).  The closer to a training image, the more data-like.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from common.errors import cli_main  # torch-free: --help stays fast

KINDS = ("test codes", "N(0, I)", "Gaussian fit to codes")


def decode_random_codes(ckpt_path: str, out: Path, n: int = 8, seed: int = 0) -> dict:
    import torch

    with torch.no_grad():
        return _decode_random_codes(ckpt_path, out, n, seed)


def _decode_random_codes(ckpt_path: str, out: Path, n: int, seed: int) -> dict:
    import torch

    from common.checkpoint import load_checkpoint, load_model_weights
    from common.images import denormalize, to_unit
    from common.io import atomic_write_json

    from autoencoders.data import Normalizer, load_dataset
    from autoencoders.models import AutoEncoder, Decoder, Encoder

    ckpt = load_checkpoint(ckpt_path, expected_arch="autoencoders.autoencoder", flag="--checkpoint")
    args = ckpt.get("args") or {}
    data = load_dataset(args.get("dataset", "digits"), args.get("data_path"), toy_per_class=args.get("toy_per_class"))
    shape = dict(image_size=data.size, latent_dim=args.get("latent_dim", 128), width=args.get("width", 32))
    ae = AutoEncoder(Encoder(in_channels=data.channels, **shape), Decoder(out_channels=data.channels, **shape))
    load_model_weights(ae, ckpt, ckpt_path)
    ae.eval()
    norm = Normalizer(data.mean, data.std, torch.device("cpu"))
    train01 = to_unit(data.splits["train"][0])
    codes = ae.encoder(norm(train01))  # (N, L)
    gen = torch.Generator().manual_seed(seed)
    z = {KINDS[0]: ae.encoder(norm(to_unit(data.splits["test"][0][:n]))),
         KINDS[1]: torch.randn(n, codes.shape[1], generator=gen),
         KINDS[2]: codes.mean(0) + codes.std(0) * torch.randn(n, codes.shape[1], generator=gen)}
    images = {k: denormalize(ae.decoder(v), norm.mean, norm.std).clamp(0, 1) for k, v in z.items()}
    nearest = {k: torch.cdist(v.flatten(1), train01.flatten(1), p=1).min(1).values / train01[0].numel()
               for k, v in images.items()}
    metrics = {"data": data.label, "checkpoint": str(ckpt_path), "train_code_norm": codes.norm(dim=1).mean().item()}
    for k in KINDS:
        key = k.replace("(", "").replace(")", "").replace(",", "").replace(" ", "_").lower()
        metrics[f"{key}_nearest_train_mae"] = nearest[k].mean().item()
        metrics[f"{key}_code_norm"] = z[k].norm(dim=1).mean().item()
    atomic_write_json(Path(out) / "metrics.json", metrics)
    _plot(images, nearest, Path(out) / "figures" / "random_codes.png", data.label)
    return metrics


def _plot(images: dict, nearest: dict, path: Path, data_label: str) -> Path:
    from common.plotting import save_figure  # selects the Agg backend before pyplot loads

    import matplotlib.pyplot as plt

    n = len(next(iter(images.values())))
    fig, axes = plt.subplots(len(images), n, figsize=(1.3 * n, 1.6 * len(images) + 0.6), squeeze=False)
    for row, (kind, batch) in zip(axes, images.items()):
        for j, ax in enumerate(row):
            img = batch[j].numpy()
            ax.imshow(img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"nn MAE {nearest[kind][j]:.3f}", fontsize=7)
        row[0].set_ylabel(kind, fontsize=8)
    fig.suptitle("Decoder outputs for three kinds of latent codes")
    return save_figure(fig, path, "Rows: decoded real test codes; codes drawn from N(0, I); codes drawn from a "
                                  "diagonal Gaussian fitted to the training codes. nn MAE: pixel MAE to the nearest "
                                  f"training image; data: {data_label}.")


@cli_main
def cli(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="a self-supervised autoencoder stage checkpoint")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random codes (default: 0)")
    args = parser.parse_args(argv)
    metrics = decode_random_codes(args.checkpoint, args.out, seed=args.seed)
    print({k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()}, flush=True)
    return metrics


if __name__ == "__main__":
    cli()
