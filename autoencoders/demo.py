"""Demo stage: all three modes on both embedded datasets, every figure (seed 0).

    python -m autoencoders.demo --out demo_out [--quick] [--device auto]

Runs ``autoencoders.main --all`` on the sklearn digits (MNIST format) and on toy scenes
(CIFAR format) with seed 0, small widths and schedules sized for about a minute on two CPU
cores, then writes the summary table.  A showcase: the three seeds, the hyper-parameter search,
longer schedules checked for convergence and the committed numbers are
``python -m autoencoders.results``.  Numbers are on embedded data and labelled so.
"""
from __future__ import annotations

import pathlib

from common.cli import demo_parser
from common.errors import cli_main

# (dataset, extra flags) per size; epochs are per stage (autoencoder, classifier, joint, SimCLR).
PLANS = {
    "full": [
        ("digits", ["--width", "16", "--batch-size", "64", "--ae-epochs", "12", "--clf-epochs", "60",
                    "--joint-epochs", "12", "--contrastive-epochs", "12", "--tsne-points", "400"]),
        ("toy-cifar", ["--toy-per-class", "100", "--width", "16", "--batch-size", "50", "--ae-epochs", "10",
                       "--clf-epochs", "60", "--joint-epochs", "12", "--contrastive-epochs", "8",
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


PLAN_NAMES = {dataset for plan in PLANS.values() for dataset, _ in plan}
SEEDS = {"full": (0,), "quick": (0,)}  # several seeds: autoencoders.results


def run_demo(out_root: pathlib.Path, quick: bool = False, device: str = "auto") -> list[pathlib.Path]:
    """Train the six embedded-data encoders per seed under ``out_root/autoencoders/<dataset>/``.

    Returns the directories written, each with metrics.json (flat keys + "data") and
    figures/*.png: per dataset the seed summary (``<dataset>/``, mean +- std; its summary.md
    has the table), then per seed the run root (``seed<k>/``) and one per mode.
    """
    from autoencoders.figures import seed_summary
    from autoencoders.main import main

    size = "quick" if quick else "full"
    written = []
    for dataset, flags in PLANS[size]:
        base = pathlib.Path(out_root) / "autoencoders" / dataset
        runs, dirs = [], []
        for seed in SEEDS[size]:
            root = base / f"seed{seed}"
            runs.append(main(["--all", "--dataset", dataset, "--logdir", str(root), "--device", device, "--quiet",
                              "--seed", str(seed), *flags]))
            dirs += [root] + [root / f"{dataset}_{mode}" for mode in ("selfsup", "guided", "contrastive")]
        seed_summary(runs, base)
        written += [base] + dirs
    return written


@cli_main
def cli(argv=None) -> list[pathlib.Path]:
    parser = demo_parser(__doc__.split("\n\n")[0], out_help="output root (runs go to OUT/autoencoders/)",
                         quick_help="tiny schedules (about 1 min on two loaded CPU cores)")
    args = parser.parse_args(argv)
    dirs = run_demo(args.out, quick=args.quick, device=args.device)
    for path in dirs:
        if path.name in PLAN_NAMES:
            print((path / "summary.md").read_text())
    return dirs


if __name__ == "__main__":
    cli()
