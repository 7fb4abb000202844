"""Dry question 1, measured: test accuracy against the latent dimension h.

    python -m autoencoders.latent_sweep --out logs/ae_latent_sweep [--dims 2 4 8 ...] [--seeds 0 1]

For every h, trains a new self-supervised autoencoder (1.2.1) and a new classification-guided
encoder (1.2.2) on the embedded sklearn digits with the demo's schedule, then reports the MLP
head's and a linear probe's test accuracy on the frozen codes (1.2.1) and the joint model's
(1.2.2).  Writes ``latent_sweep.md``, ``metrics.json`` and ``figures/latent_sweep.png`` into OUT.
Numbers are on embedded data (not MNIST) and labelled so.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from common.errors import UserError, cli_main  # torch-free: --help stays fast

DIMS = (2, 4, 8, 16, 32, 64, 128, 256)
# The digits schedule of autoencoders/demo.py (the sweep answers a question about the demo's setting).
FLAGS = ["--width", "16", "--batch-size", "64", "--ae-epochs", "12", "--clf-epochs", "60", "--joint-epochs", "12",
         "--tsne-points", "100", "--no-curves"]
CURVES = (("selfsup_test_acc1", "1.2.1 autoencoder + MLP head"), ("selfsup_probe_test_acc1", "1.2.1 linear probe"),
          ("guided_test_acc1", "1.2.2 jointly trained"))


def sweep(out: Path, dims=DIMS, seeds=(0,), device: str = "auto", flags=tuple(FLAGS)) -> dict:
    """Train both modes for every (h, seed); returns the flat metrics also written to ``out/metrics.json``.

    ``flags``: the schedule passed to ``autoencoders.main`` (default: the demo's digits schedule).
    """
    import numpy as np

    from common.io import atomic_write_json, atomic_write_text
    from common.plotting import markdown_table

    from autoencoders.main import main

    if not dims or min(dims) < 1:
        raise UserError(f"--dims must be positive latent sizes, got {list(dims)}")
    results = {}  # (h, seed) -> flat metrics of main()
    for h in dims:
        for seed in seeds:
            for mode in ("selfsup", "guided"):
                flat = main(["--mode", mode, "--dataset", "digits", "--latent-dim", str(h), "--seed", str(seed),
                             "--device", device, "--quiet", "--logdir", str(out / f"h{h}_seed{seed}_{mode}"), *flags])
                results.setdefault((h, seed), {}).update({k[len("digits_"):]: v for k, v in flat.items()
                                                         if k.startswith("digits_")})
                data = flat["data"]
    flat = {"data": data, "seeds": len(seeds)}
    rows = []
    for h in dims:
        row = {"h": h}
        for key, name in CURVES + (("selfsup_test_mae", "1.2.1 test MAE (pixels)"),):
            values = [results[(h, s)][key] for s in seeds]
            flat[f"h{h}_{key}_mean"] = float(np.mean(values))
            flat[f"h{h}_{key}_std"] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
            row[name] = f"{np.mean(values):.{4 if 'mae' in key else 1}f}"
        rows.append(row)
    atomic_write_json(out / "metrics.json", flat)
    atomic_write_text(out / "latent_sweep.md", f"# Test accuracy (%) against latent dimension h (mean over "
                      f"{len(seeds)} seed(s))\n\ndata: {data}\n\n" + markdown_table(rows, list(rows[0])))
    flat["rows"] = rows
    plot_sweep(flat, dims, out / "figures" / "latent_sweep.png", data, len(seeds))
    return flat


def plot_sweep(flat: dict, dims, path: Path, data: str, n_seeds: int) -> Path:
    import numpy as np

    from common.plotting import save_figure  # selects the Agg backend before pyplot loads

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (key, name), marker in zip(CURVES, "osd"):
        mean = np.array([flat[f"h{h}_{key}_mean"] for h in dims])
        std = np.array([flat[f"h{h}_{key}_std"] for h in dims])
        ax.errorbar(dims, mean, yerr=std if n_seeds > 1 else None, marker=marker, capsize=3, label=name)
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(dims), [str(h) for h in dims])
    ax.set_xlabel("latent dimension h")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Digits: accuracy against latent dimension")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return save_figure(fig, path, f"One new encoder per h (one schedule for every h), mean over {n_seeds} seed(s)"
                                  f"{', bars: std' if n_seeds > 1 else ''}; data: {data}.")


@cli_main
def cli(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help="output folder (one run folder per h, seed, mode)")
    parser.add_argument("--dims", type=int, nargs="+", default=list(DIMS), help="latent sizes h to train")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds per h")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    args = parser.parse_args(argv)
    flat = sweep(args.out, args.dims, args.seeds, args.device)
    print((args.out / "latent_sweep.md").read_text(), flush=True)
    return flat


if __name__ == "__main__":
    cli()
