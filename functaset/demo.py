"""Demo stage: digits -> small functaset -> classifier -> PGD sweep -> figures.

    python -m functaset.demo --out demo_out/functaset [--quick]

Everything runs offline on the embedded sklearn digits (real handwritten digits, *not*
Fashion-MNIST); every metrics.json and caption says so.  A showcase sized for about a
minute on 2 CPU cores: the functaset is built with a third of the demo preset's
meta-learning and half its fitting iterations, and the classifier uses the configuration
the committed results chose on validation (``functaset/results/search.json``).  The full
preset, the search, robust training and the committed numbers: ``python -m functaset.results``.
``--quick`` is a smoke run on 120 images.
"""
from __future__ import annotations

import pathlib

from common.cli import demo_parser
from common.io import read_json

from functaset.defaults import DIGITS_EPSILONS


def build_parser():
    return demo_parser(__doc__.split("\n\n")[0], out_help="folder for the demo's run directories",
                       quick_help="smoke-test sizes: 120 images, 1 meta-learning epoch")


if __name__ == "__main__":  # answer --help and reject bad flags before the heavy imports below
    build_parser().parse_args()

from functaset.attack import main as attack_main  # noqa: E402
from functaset.classifier import main as classifier_main  # noqa: E402
from functaset.make_functaset import main as make_main  # noqa: E402

SIZES = {  # quick / full
    "build": ({"--limit": "120", "--meta-epochs": "1", "--fit-steps": "3"},
              {"--meta-epochs": "4", "--fit-steps": "20"}),
    "epochs": ("10", "20"),
}
FALLBACK_FLAGS = ["--hidden", "256", "--depth", "2", "--lr", "3e-3"]  # when results/search.json is missing


def _flags(mapping: dict) -> list[str]:
    return [item for kv in mapping.items() for item in kv]


def chosen_flags() -> list[str]:
    """The classifier flags the committed results chose on validation (Wet 1 of ANSWERS.md)."""
    search = read_json(pathlib.Path(__file__).resolve().parent / "results" / "search.json", {}) or {}
    return list((search.get("chosen") or {}).get("flags") or FALLBACK_FLAGS)


def run_demo(out_root: pathlib.Path, quick: bool = False, device: str = "auto") -> list[pathlib.Path]:
    """Run the whole chain under ``out_root``; returns the run directories written."""
    out_root = pathlib.Path(out_root)
    common = ["--device", device, "--quiet"]
    data = out_root / "functaset_digits"
    runs = [out_root / "functa_build", out_root / "functa_classifier", out_root / "functa_attack"]
    make_main(["--source", "digits", "--preset", "demo", "--out", str(data), "--logdir", str(runs[0]),
               *_flags(SIZES["build"][not quick]), *common])
    std = classifier_main(["-p", str(data), *chosen_flags(), "--epochs", SIZES["epochs"][not quick],
                           "--logdir", str(runs[1]), *common])
    attack_args = ["-m", std["model_path"], "-p", str(data), "--epsilons", *DIGITS_EPSILONS]
    if quick:
        attack_args += ["--ratios", "0.25", "1.0", "--select-samples", "120"]
    attack_main([*attack_args, "--logdir", str(runs[2]), *common])
    return runs


def summary(runs: list[pathlib.Path]) -> str:
    """One line per run: its headline numbers."""
    lines = []
    for run in runs:
        m = read_json(run / "metrics.json", {}) or {}
        keys = [k for k in ("psnr_test", "test_acc", "val_acc_robust", "clean_acc", "cm_epsilon", "cm_accuracy")
                if k in m]
        lines.append(f"{run.name}: " + ", ".join(f"{k}={m[k]:.4g}" if isinstance(m[k], float) else f"{k}={m[k]}"
                                                 for k in keys))
    return "\n".join(lines)


def main(argv=None) -> list[pathlib.Path]:
    args = build_parser().parse_args(argv)
    runs = run_demo(args.out, quick=args.quick, device=args.device)
    print(summary(runs))
    return runs


if __name__ == "__main__":
    main()
