"""Demo stage: all three modes on both embedded datasets, a few epochs each, every figure.

    python -m autoencoders.demo --out demo_out [--quick] [--device auto]

Runs ``autoencoders.main --all`` on the sklearn digits (MNIST format) and on toy scenes
(CIFAR format), with small widths and schedules sized for two CPU cores (full: about
4 minutes, quick: about 30 seconds).  Numbers are on embedded data and labelled so.
"""
from __future__ import annotations

import pathlib

from common.cli import demo_parser
from common.errors import cli_main

# (dataset, extra flags) per size; epochs are per stage (autoencoder, classifier, joint, SimCLR).
PLANS = {
    "full": [
        ("digits", ["--width", "16", "--batch-size", "64", "--ae-epochs", "12", "--clf-epochs", "8",
                    "--joint-epochs", "6", "--contrastive-epochs", "12", "--tsne-points", "400"]),
        ("toy-cifar", ["--toy-per-class", "100", "--width", "16", "--batch-size", "50", "--ae-epochs", "10",
                       "--clf-epochs", "6", "--joint-epochs", "6", "--contrastive-epochs", "8",
                       "--tsne-points", "400"]),
    ],
    "quick": [  # no per-stage training-curve PNGs: matplotlib would be a third of the time
        ("digits", ["--width", "8", "--batch-size", "64", "--ae-epochs", "2", "--clf-epochs", "2",
                    "--joint-epochs", "2", "--contrastive-epochs", "2", "--tsne-points", "100", "--no-curves"]),
        ("toy-cifar", ["--toy-per-class", "30", "--width", "8", "--batch-size", "50", "--ae-epochs", "2",
                       "--clf-epochs", "3", "--joint-epochs", "3", "--contrastive-epochs", "2",
                       "--tsne-points", "100", "--no-curves"]),
    ],
}


def run_demo(out_root: pathlib.Path, quick: bool = False, device: str = "auto") -> list[pathlib.Path]:
    """Train the six embedded-data encoders under ``out_root/autoencoders/``; returns the run dirs written.

    Each returned directory holds metrics.json (flat keys + "data") and figures/*.png:
    one per dataset (summary table) and one per (dataset, mode).
    """
    from autoencoders.main import main

    written = []
    for dataset, flags in PLANS["quick" if quick else "full"]:
        root = pathlib.Path(out_root) / "autoencoders" / dataset
        main(["--all", "--dataset", dataset, "--logdir", str(root), "--device", device, "--quiet", "--seed", "0",
              *flags])
        written += [root] + [root / f"{dataset}_{mode}" for mode in ("selfsup", "guided", "contrastive")]
    return written


@cli_main
def cli(argv=None) -> list[pathlib.Path]:
    parser = demo_parser(__doc__.split("\n\n")[0], out_help="output root (runs go to OUT/autoencoders/)",
                         quick_help="tiny schedules (about 30 s on two CPU cores)")
    args = parser.parse_args(argv)
    dirs = run_demo(args.out, quick=args.quick, device=args.device)
    for path in dirs[::4]:
        print((path / "summary.md").read_text())
    return dirs


if __name__ == "__main__":
    cli()
