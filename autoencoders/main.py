"""Latent spaces on MNIST and CIFAR-10: self-supervised, classification-guided and contrastive encoders.

    python autoencoders/main.py --mnist --self-supervised            # starter flags: 1.2.1 on MNIST
    python autoencoders/main.py --all --dataset mnist cifar10         # all six encoders + comparison
    python autoencoders/main.py --all --dataset digits toy-cifar      # offline, embedded data

Each (dataset, mode) writes ``<run>/<dataset>_<mode>/`` with metrics.json and figures
(reconstructions, interpolation, t-SNE); the run root gets summary.md, a summary
table PNG and metrics.json with every number under ``<dataset>_<mode>_<metric>`` keys.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from common.cli import (add_engine_args, nonnegative_float, nonnegative_int, open_fraction, positive_float,
                        positive_int, run_context)
from common.errors import UserError, cli_main
from common.io import read_json

from autoencoders.defaults import DATASETS, DEFAULTS, MODES, default_data_path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_epilog())
    starter = parser.add_argument_group("starter flags (kept from the course's main.py)")
    starter.add_argument("--data-path", default=default_data_path(),
                         help="torchvision dataset root (default: /datasets/cv_datasets/data if it exists, else data/)")
    starter.add_argument("--batch-size", type=positive_int, default=None,
                         help="batch size (default per dataset: " + _per_dataset("batch_size") + ")")
    starter.add_argument("--latent-dim", type=positive_int, default=128, help="latent code size (default: 128)")
    starter.add_argument("--mnist", action="store_true", help="use MNIST (default dataset: CIFAR-10)")
    starter.add_argument("--self-supervised", action="store_true",
                         help="1.2.1: train the autoencoder, then a classifier on its frozen encoder "
                              "(without it: 1.2.2, the classification-guided encoder)")
    what = parser.add_argument_group("what to run")
    what.add_argument("--mode", choices=MODES, default=None,
                      help="selfsup (1.2.1), guided (1.2.2) or contrastive (1.2.3); overrides --self-supervised")
    what.add_argument("--dataset", nargs="+", choices=DATASETS, default=None,
                      help="one or more of mnist, cifar10 (torchvision) or digits, toy-cifar (embedded, offline); "
                           "overrides --mnist; with --all the default is mnist cifar10")
    what.add_argument("--all", action="store_true", help="run all three modes on each dataset and write a comparison")
    what.add_argument("--download", action="store_true",
                      help="let torchvision download MNIST/CIFAR-10 into --data-path")
    what.add_argument("--val-size", type=positive_int, default=5000,
                      help="images carved from the real training set for validation, fixed seed (default: 5000)")
    what.add_argument("--dry-run", action="store_true",
                      help="tiny run to check the setup: 256 train / 128 val / 128 test images, 1 epoch per stage "
                           "unless its --*-epochs flag is given")
    what.add_argument("--toy-per-class", type=positive_int, default=None,
                      help="toy-cifar only: training images per class (default 300; val/test get 1/5 and 1/3 of it)")
    what.add_argument("--encoder", default="", metavar="CKPT",
                      help="skip pre-training: load this autoencoder (selfsup) or contrastive checkpoint "
                           "(<run>/<dataset>_<mode>/<stage>/models/checkpoint.pth.tar)")
    what.add_argument("--classifier", default="", metavar="CKPT",
                      help="skip classifier training: load this classifier checkpoint (must match the encoder)")
    _add_training_args(parser)
    add_engine_args(parser, resume=True)
    return parser


def _add_training_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("training (epochs default per dataset; see below)")
    for key, what in (("ae", "autoencoder (1.2.1)"), ("clf", "frozen-encoder classifier (1.2.1, 1.2.3)"),
                      ("joint", "joint encoder + classifier (1.2.2)"), ("contrastive", "SimCLR pre-training (1.2.3)")):
        flag = key.replace("_", "-")
        group.add_argument(f"--{flag}-epochs", type=positive_int, default=None, help=f"epochs of the {what}")
    group.add_argument("--ae-lr", type=positive_float, default=2e-3, help="AdamW peak LR, autoencoder (default: 2e-3)")
    group.add_argument("--clf-lr", type=positive_float, default=1e-3,
                       help="AdamW peak LR, frozen-encoder classifier (1e-3)")
    group.add_argument("--joint-lr", type=positive_float, default=2e-3,
                       help="AdamW peak LR, joint model (default: 2e-3)")
    group.add_argument("--contrastive-lr", type=positive_float, default=2e-3,
                       help="AdamW peak LR, SimCLR (default: 2e-3)")
    group.add_argument("--dropout", type=open_fraction, default=0.2,
                       help="dropout of the classifier head, the same head on every encoder (default: 0.2)")
    group.add_argument("--weight-decay", type=nonnegative_float, default=5e-4,
                       help="AdamW weight decay (default: 5e-4)")
    group.add_argument("--clip-grad", type=nonnegative_float, default=5.0,
                       help="max gradient norm, 0 disables (default: 5)")
    group.add_argument("--width", type=positive_int, default=None,
                       help="channels of the first conv (second: 2x); default per dataset: " + _per_dataset("width"))
    group.add_argument("--ae-loss", choices=("l1", "mse", "smooth_l1"), default="l1",
                       help="reconstruction loss in normalised units (MAE is always reported in pixels)")
    group.add_argument("--temperature", type=positive_float, default=0.5, help="NT-Xent temperature (default: 0.5)")
    group.add_argument("--jitter", type=nonnegative_float, default=0.5,
                       help="colour-jitter strength of the views (0.5)")
    group.add_argument("--tsne-points", type=nonnegative_int, default=2000,
                       help="test samples per t-SNE plot; 0: no t-SNE (searches) (default: 2000)")
    group.add_argument("--curves", action=argparse.BooleanOptionalAction, default=True,
                       help="plot each stage's training curves (TensorBoard has them either way; default: on)")
    group.add_argument("-p", "--print-freq", type=positive_int, default=20, help="steps between host syncs / log lines")


def _per_dataset(key: str) -> str:
    return ", ".join(f"{name} {values[key]}" for name, values in DEFAULTS.items())


def _epilog() -> str:
    rows = [f"  {name:<10} " + "  ".join(f"{k}={v}" for k, v in values.items()) for name, values in DEFAULTS.items()]
    return "per-dataset defaults:\n" + "\n".join(rows)


if __name__ == "__main__":  # answer --help and reject bad flags before the heavy imports below
    build_parser().parse_args()

from autoencoders.data import load_dataset  # noqa: E402
from autoencoders.experiment import Experiment  # noqa: E402
from autoencoders.figures import write_summary  # noqa: E402
from autoencoders.utils import freeze_seeds  # noqa: E402,F401 (the starter defines it in main.py)


def resolve(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """(datasets, modes) to run, with the starter's flags mapped onto the new ones."""
    if args.mode and args.self_supervised and args.mode != "selfsup":
        raise UserError(f"--self-supervised contradicts --mode {args.mode}; pass one of them")
    if args.dataset and args.mnist and args.dataset != ["mnist"]:
        raise UserError(f"--mnist contradicts --dataset {' '.join(args.dataset)}; pass one of them")
    datasets = args.dataset or (["mnist"] if args.mnist else (["mnist", "cifar10"] if args.all else ["cifar10"]))
    modes = list(MODES) if args.all else [args.mode or ("selfsup" if args.self_supervised else "guided")]
    if (args.encoder or args.classifier) and (len(modes) > 1 or len(datasets) > 1):
        raise UserError("--encoder/--classifier load one encoder: use them with one --dataset and one --mode")
    if args.dry_run:
        for stage in ("ae", "clf", "joint", "contrastive"):  # explicit epoch flags still win
            if getattr(args, f"{stage}_epochs") is None:
                setattr(args, f"{stage}_epochs", 1)
        args.tsne_points = min(args.tsne_points, 100)
    return list(dict.fromkeys(datasets)), modes


STAGE_OF_MODE = {"selfsup": "autoencoder", "contrastive": "contrastive"}  # the stage whose encoder --encoder loads


def check_saved_stages(args: argparse.Namespace, mode: str) -> None:
    """--encoder / --classifier: readable checkpoints of the right stage, and a pair that belongs together,
    checked before anything trains (a bad --classifier used to fail only after the autoencoder's training)."""
    from common.checkpoint import load_checkpoint

    from autoencoders.models import state_fingerprint

    if not (args.encoder or args.classifier):
        return
    if mode not in STAGE_OF_MODE:
        raise UserError("--encoder/--classifier load pre-trained encoders; the guided mode trains its encoder "
                        "jointly with the classifier, so use them with --mode selfsup or contrastive")
    encoder = classifier = None
    if args.encoder:
        encoder = load_checkpoint(args.encoder, expected_arch=f"autoencoders.{STAGE_OF_MODE[mode]}", flag="--encoder")
    if args.classifier:
        classifier = load_checkpoint(args.classifier, expected_arch="autoencoders.classifier", flag="--classifier")
    if encoder is not None and classifier is not None:
        state = encoder.get("state_dict", encoder)
        fingerprint = state_fingerprint({name[len("encoder."):]: tensor for name, tensor in state.items()
                                         if name.startswith("encoder.")})
        paired = (classifier.get("args") or {}).get("encoder_fingerprint")
        if paired != fingerprint:
            raise UserError(f"classifier checkpoint {args.classifier} was trained on encoder {paired}, but "
                            f"--encoder {args.encoder} is {fingerprint}; pass the --encoder it was trained with")


def resume_root(args: argparse.Namespace) -> str | None:
    """The run root of ``--resume <root>/<dataset>_<mode>/<stage>/models/checkpoint.pth.tar``.

    The root is the nearest folder above the checkpoint holding the ``config.json`` this
    script writes (never a folder found by counting levels), so a checkpoint of another
    layout is refused instead of training into whatever lies three levels up.
    Finished modes and stages of that run are reloaded, the interrupted stage continues at
    its exact step, and the rest is trained; ``--logdir`` may be omitted or must match.
    """
    if not args.resume:
        return args.logdir
    ckpt = Path(args.resume)
    if not ckpt.is_file():
        raise UserError(f"--resume {ckpt}: no such checkpoint")
    root = next((p for p in ckpt.resolve().parents if (p / "config.json").is_file()), None)
    layout = ckpt.resolve().relative_to(root).parts if root else ()
    foreign = root is not None and read_json(root / "config.json").get("assignment", "autoencoders") != "autoencoders"
    if len(layout) != 4 or layout[2] != "models" or foreign:
        raise UserError(f"--resume {ckpt}: not a stage checkpoint of an autoencoders run; expected "
                        "<run>/<dataset>_<mode>/<stage>/models/checkpoint.pth.tar below the run's config.json")
    if args.logdir and Path(args.logdir).resolve() != root:
        raise UserError(f"--resume {ckpt} belongs to run {root}, not --logdir {args.logdir}")
    return str(root)


@cli_main
def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    datasets, modes = resolve(args)
    check_saved_stages(args, modes[0])  # one mode when they are given (resolve)
    args.logdir = resume_root(args)
    # Load every dataset before creating the run directory: a bad path leaves nothing behind.
    loaded = [load_dataset(name, args.data_path, download=args.download, val_size=args.val_size,
                           toy_per_class=args.toy_per_class) for name in datasets]
    if args.dry_run:
        loaded = [data.head(256, 128) for data in loaded]
    with run_context(args, "autoencoders", resume=args.resume or None,
                     resume_run=args.logdir if args.resume else None) as ctx:
        return run(args, ctx, loaded, modes)


def run(args: argparse.Namespace, ctx, loaded: list, modes: list[str]) -> dict:
    results = []
    for data in loaded:
        experiment = Experiment(args, data, ctx, ctx.run.path)
        for mode in modes:
            metrics = experiment.run(mode)
            results.append(metrics)
            if ctx.dist.is_main and not args.quiet:
                mae = f"  test MAE {metrics['test_mae']:.4f}" if "test_mae" in metrics else ""
                print(f"[{data.name} {mode}] test acc {metrics['test_acc1']:.2f}%{mae}  (data: {data.label})",
                      flush=True)
    flat = {f"{r['dataset']}_{r['mode']}_{k}": v for r in results for k, v in r.items()
            if isinstance(v, (int, float))}  # numbers and flags such as encoder_frozen_verified
    flat["data"] = "; ".join(dict.fromkeys(r["data"] for r in results))
    if ctx.dist.is_main:
        ctx.run.write_metrics(flat)
        md, _ = write_summary(results, ctx.run.path, ctx.run.figures)
        if not args.quiet:
            print(md.read_text() + f"run: {ctx.run.path}", flush=True)
    return flat


if __name__ == "__main__":
    main()
