"""Engine demo: a small CNN on the embedded digits (or real MNIST) with every engine feature.

    python -m common.train_digits --epochs 3
    torchrun --nproc_per_node=2 -m common.train_digits --epochs 3 --device cpu

It exercises AMP, warmup+cosine, clipping, checkpoints, --resume, graceful stop,
TensorBoard, DDP and the run directory; the tests use it as the reference run.
"""
from __future__ import annotations

import argparse

from common.cli import add_engine_args, nonnegative_float, nonnegative_int, positive_float, positive_int, run_context
from common.errors import cli_main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=positive_int, default=5, help="training epochs")
    parser.add_argument("-b", "--batch-size", type=positive_int, default=64,
                        help="global batch size (split across DDP ranks)")
    parser.add_argument("--lr", type=positive_float, default=0.05, help="peak SGD learning rate")
    parser.add_argument("--warmup", type=nonnegative_float, default=1.0, help="linear warmup length in epochs")
    parser.add_argument("--clip-grad", type=nonnegative_float, default=1.0, help="max gradient norm (0 disables)")
    parser.add_argument("-j", "--workers", type=nonnegative_int, default=0, help="DataLoader worker processes")
    parser.add_argument("-p", "--print-freq", type=positive_int, default=10, help="steps between host syncs / logs")
    parser.add_argument("--train-size", type=positive_int, default=None,
                        help="use only the first N training images (e.g. a multiple of the batch size)")
    parser.add_argument("--dry-run", action="store_true", help="tiny run: 1 epoch")
    add_engine_args(parser, resume=True)
    return parser


if __name__ == "__main__":  # answer --help and reject bad flags before the heavy imports below
    build_parser().parse_args()

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from torch.utils.data import Subset  # noqa: E402

from common.data import make_loader  # noqa: E402
from common.embedded.digits import DigitsMNIST, LABEL  # noqa: E402
from common.engine import EngineConfig, Trainer  # noqa: E402
from common.plotting import plot_training_curves  # noqa: E402


ARCH = "digits_smallcnn"  # the checkpoints' arch


class SmallCNN(nn.Module):
    """Two conv blocks + linear head; no BatchNorm so DDP runs match single-process runs exactly."""

    def __init__(self, num_classes: int = 10, width: int = 16):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),          # (B, w, 14, 14)
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),  # (B, 2w, 7, 7)
        )
        self.head = nn.Linear(2 * width * 7 * 7, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


@cli_main
def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    if args.dry_run:
        args.epochs = 1
    # --resume continues a training run: refused before anything is written if it cannot (run_context)
    with run_context(args, "digits", resume=args.resume or None, epochs=args.epochs, arch=ARCH) as ctx:
        return train(args, ctx)


def train(args, ctx) -> dict:
    train_set, val_set, test_set = DigitsMNIST("train"), DigitsMNIST("val"), DigitsMNIST("test")
    if args.train_size:
        train_set = Subset(train_set, range(min(args.train_size, len(train_set))))
    loader = lambda ds, train: make_loader(ds, args.batch_size, train=train, seed=args.seed, workers=args.workers,  # noqa: E731
                                           dist_info=ctx.dist, device=ctx.device)
    model = SmallCNN()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=1e-4)
    cfg = EngineConfig(epochs=args.epochs, warmup_epochs=args.warmup, clip_grad=args.clip_grad,
                       print_freq=args.print_freq, quiet=args.quiet, topk=(1, 5))
    trainer = Trainer(model, optimizer, loader(train_set, True), loader(val_set, False), ctx=ctx, cfg=cfg,
                      arch=ARCH, args=args)
    if args.resume:
        trainer.resume(args.resume)
    history = trainer.fit()
    test = trainer.evaluate(loader(test_set, False), desc="test")
    metrics = {**trainer.final_metrics(), **{f"test_{k}": v for k, v in test.items()}, "data": LABEL}
    if ctx.dist.is_main:
        ctx.run.write_metrics(metrics)
        plot_training_curves(history, ctx.run.figure_path("training_curves"), title="SmallCNN on sklearn digits",
                             caption=f"Loss, top-1/top-5 and LR per epoch; data: {LABEL}.")
        print(f"test top-1 {test['acc1']:.2f}%  (data: {LABEL})  run: {ctx.run.path}")
    return metrics

if __name__ == "__main__":
    main()
