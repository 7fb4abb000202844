"""Train the parameter-space classifier on functaset vectors (standard or adversarially robust).

    python -m functaset.classifier -p /datasets/functaset
    python -m functaset.classifier -p data/functaset_digits --epochs 30
    python -m functaset.classifier -p /datasets/functaset --model vanilla -c   # the starter's linear baseline, CPU
    python -m functaset.classifier -p /datasets/functaset --adv-train pgd --train-eps 1e-4 \\
        --init-from logs/functaset/exp_X/models/model_best.pth.tar

The model sees only the modulation vectors (never decoded images).  The checkpoint with
the best validation accuracy (robust validation accuracy when adversarially trained) is
kept as ``models/model_best.pth.tar``; train/val/test accuracy and three confusion
matrices are computed with it.  Test data is never used for any choice.
"""
from __future__ import annotations

import argparse

from common.cli import (add_engine_args, nonnegative_float, nonnegative_int, open_fraction, positive_float,
                        positive_int, run_context)
from common.errors import UserError, cli_main

from functaset.defaults import add_cpu_flag, apply_cpu_flag, default_data_path


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-p", "--data-path", default=str(default_data_path()),
                   help="folder with <name>_{train,val,test}.pkl (default: %(default)s)")
    p.add_argument("--name", default=None, help="file prefix (default: fmnist, or the only *_train.pkl there)")
    p.add_argument("-b", "--batch-size", type=positive_int, default=256, help="global batch size (default: 256)")
    p.add_argument("--epochs", type=positive_int, default=60, help="training epochs (default: 60)")
    p.add_argument("--lr", type=positive_float, default=1e-3, help="peak AdamW learning rate (default: 1e-3)")
    p.add_argument("--weight-decay", type=nonnegative_float, default=0.05, help="AdamW weight decay (default: 0.05)")
    p.add_argument("--warmup", type=nonnegative_float, default=2.0,
                   help="linear warmup epochs before cosine (default: 2)")
    p.add_argument("--clip-grad", type=nonnegative_float, default=1.0,
                   help="max gradient norm, 0 disables (default: 1)")
    p.add_argument("--model", choices=["mlp", "vanilla"], default="mlp",
                   help="mlp (ours, sized by --hidden/--depth) or vanilla (the starter's VanillaClassifier: one "
                        "Linear layer on the raw vector; no dropout or noise) (default: mlp)")
    p.add_argument("--hidden", type=positive_int, default=1024, help="MLP width (default: 1024)")
    p.add_argument("--depth", type=nonnegative_int, default=3, help="hidden blocks (default: 3)")
    p.add_argument("--dropout", type=open_fraction, default=0.2, help="dropout after each block (default: 0.2)")
    p.add_argument("--input-dropout", type=open_fraction, default=0.1,
                   help="dropout on the input vector (default: 0.1)")
    p.add_argument("--noise", type=nonnegative_float, default=None,
                   help="training noise in standard deviations of each dimension (default: 0.1; "
                        "0 with --model vanilla, which has no per-dimension statistics)")
    p.add_argument("--label-smoothing", type=open_fraction, default=0.1, help="(default: 0.1)")
    p.add_argument("-j", "--workers", type=nonnegative_int, default=0, help="DataLoader workers (default: 0)")
    p.add_argument("--dry-run", action="store_true", help="tiny run: 1 epoch")
    p.add_argument("--figures", action=argparse.BooleanOptionalAction, default=True,
                   help="draw the confusion matrices and training curves (--no-figures: numbers only, for "
                        "searches) (default: on)")
    rob = p.add_argument_group("robust training (the bonus)")
    rob.add_argument("--adv-train", choices=["none", "pgd", "trades"], default="none",
                     help="none, Madry PGD adversarial training, or TRADES (default: none)")
    rob.add_argument("--train-eps", type=positive_float, default=1e-4, help="training L-inf bound (default: 1e-4)")
    rob.add_argument("--train-steps", type=positive_int, default=10, help="PGD steps while training (default: 10)")
    rob.add_argument("--alpha-ratio", type=positive_float, default=0.25, help="PGD step size / epsilon (default: 0.25)")
    rob.add_argument("--trades-beta", type=nonnegative_float, default=6.0, help="TRADES KL weight (default: 6)")
    rob.add_argument("--eps-warmup", type=nonnegative_float, default=5.0,
                     help="epochs to ramp epsilon up from 0 (default: 5)")
    rob.add_argument("--init-from", default=None, metavar="PATH",
                     help="warm start from a classifier checkpoint (e.g. a standard model_best.pth.tar)")
    add_engine_args(p, resume=True)
    add_cpu_flag(p)
    return p


if __name__ == "__main__":  # answer --help and reject bad flags before the heavy imports below
    build_parser().parse_args()

import torch  # noqa: E402

from common.checkpoint import load_checkpoint, load_model_weights  # noqa: E402
from common.engine import EngineConfig, Trainer, classification_step  # noqa: E402
from common.plotting import plot_confusion_matrix, plot_training_curves  # noqa: E402
from common.predict import collect  # noqa: E402

from functaset.models import ARCH, FunctaMLP, VanillaClassifier, load_classifier  # noqa: E402,F401 (starter name)
from functaset.robust import adversarial_step, ramp, robust_eval_step, standard_step  # noqa: E402
from functaset.utils import (class_names, data_label, detect_name, get_fmnist_functa, read_info,  # noqa: E402
                             top_confusions)


def step_functions(args, clock):
    """(train step, eval step, monitored metric) for the chosen objective; ``clock()`` is the
    training progress in epochs (:attr:`Trainer.epochs_done`), which ramps the epsilon."""
    if args.adv_train == "none":
        # Evaluate without the training noise (the engine would otherwise reuse the train step).
        return standard_step(args.noise, args.label_smoothing), classification_step, "acc1"
    eps_at = ramp(clock, args.train_eps, args.eps_warmup)
    train = adversarial_step(args.adv_train, eps_at, args.train_steps, args.alpha_ratio, args.trades_beta,
                             args.label_smoothing)
    return train, robust_eval_step(args.train_eps, 10, args.alpha_ratio), "acc_robust"


@torch.no_grad()
def predict(model, loader, device, batch_size: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """True and predicted labels of a loader's *whole* dataset (CPU tensors).

    Reads the dataset's tensors directly: under DDP the loader itself only yields this
    rank's shard, and rank 0 reports on every sample.
    """
    vectors, labels = loader.dataset.tensors
    chunks = ((vectors[i:i + batch_size], labels[i:i + batch_size]) for i in range(0, len(labels), batch_size))
    preds, labels = collect(model, chunks, device=device, fn=lambda logits: logits.argmax(dim=1))[:2]
    return labels, preds


def build_model(args, train_vectors: torch.Tensor, num_classes: int, device) -> torch.nn.Module:
    if args.model == "vanilla":
        model = VanillaClassifier(in_features=train_vectors.shape[1], num_classes=num_classes)
    else:
        model = FunctaMLP(in_dim=train_vectors.shape[1], num_classes=num_classes, hidden=args.hidden,
                          depth=args.depth, dropout=args.dropout, input_dropout=args.input_dropout)
        model.set_normalization(train_vectors)
    if args.init_from:
        load_model_weights(model, load_checkpoint(args.init_from, map_location="cpu", expected_arch=ARCH,
                                                   flag="--init-from"),
                           args.init_from)
    return model


def evaluate_best(loaders: dict, names: list[str], label: str, ctx, figures: bool = True) -> dict:
    """Reload model_best, report accuracies and draw the three confusion matrices."""
    best_path = ctx.run.models / "model_best.pth.tar"
    model = load_classifier(best_path, ctx.device, flag=None)
    metrics = {"model_path": str(best_path)}
    for split, loader in loaders.items():
        y, pred = predict(model, loader, ctx.device)
        acc = 100.0 * (pred == y).float().mean().item()
        metrics[f"{split}_acc"] = acc
        metrics[f"{split}_top_confusions"] = top_confusions(y, pred, names)
        metrics[f"{split}_errors"] = int((pred != y).sum())
        if figures:
            plot_confusion_matrix(y.numpy(), pred.numpy(), names, ctx.run.figure_path(f"confusion_{split}"),
                                  title=f"{split} confusion matrix (accuracy {acc:.2f}%)",
                                  caption=f"Rows: true class, columns: predicted; {split} split of {label}.")
    return metrics


TRAINING_NAMES = {"none": "standard", "pgd": "PGD adversarial", "trades": "TRADES"}


def _curve_point(record: dict) -> dict:
    """One epoch of the history, the keys a convergence check reads (loss, accuracies, LR)."""
    keys = ("epoch", "train_loss", "train_acc1", "val_loss", "val_acc1", "val_acc_robust", "lr")
    return {k: record[k] for k in keys if k in record}


@cli_main
def main(argv=None) -> dict:
    args = apply_cpu_flag(build_parser().parse_args(argv))
    if args.dry_run:
        args.epochs = 1
    if args.noise is None:
        args.noise = 0.0 if args.model == "vanilla" else 0.1
    if args.model == "vanilla" and args.noise > 0:
        raise UserError("--noise is measured in each dimension's training std, which only --model mlp keeps; "
                        "pass --noise 0 with --model vanilla")
    name = args.name or detect_name(args.data_path)
    modul_dim = (read_info(args.data_path).get("config") or {}).get("modul_features", 512)
    with run_context(args, "functaset", resume=args.resume or None, epochs=args.epochs, arch=ARCH) as ctx:
        return run(args, ctx, name, modul_dim)


def run(args, ctx, name: str, modul_dim: int) -> dict:
    load = lambda mode: get_fmnist_functa(args.data_path, args.batch_size, mode, name=name,  # noqa: E731
                                          num_workers=args.workers, seed=args.seed, dist_info=ctx.dist,
                                          device=ctx.device, modul_dim=modul_dim)
    loaders = {split: load(split) for split in ("train", "val", "test")}
    train_vectors = loaders["train"].dataset.tensors[0]
    names = class_names(args.data_path)
    label = data_label(args.data_path, name)
    model = build_model(args, train_vectors, len(names), ctx.device)
    train_step, eval_step, monitor = step_functions(args, lambda: trainer.epochs_done)  # called during fit
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    cfg = EngineConfig(epochs=args.epochs, warmup_epochs=args.warmup, clip_grad=args.clip_grad, quiet=args.quiet,
                       topk=(1,), monitor=monitor, print_freq=20)
    trainer = Trainer(model, optimizer, loaders["train"], loaders["val"], ctx=ctx, cfg=cfg, step_fn=train_step,
                      eval_step_fn=eval_step, arch=ARCH, args=args,
                      model_config=model.hparams)  # attack.py rebuilds the model from it
    if args.resume:
        trainer.resume(args.resume)
    history = trainer.fit()
    metrics = {"data": label, "adv_train": args.adv_train, **trainer.final_metrics(),
               "monitor": f"val_{monitor}", "history": [_curve_point(h) for h in history]}
    if ctx.dist.is_main:
        metrics.update(evaluate_best(loaders, names, label, ctx, args.figures))
        if args.figures:
            plot_training_curves(history, ctx.run.figure_path("training_curves"),
                                 title=f"Functa classifier ({TRAINING_NAMES[args.adv_train]} training)",
                                 caption=f"Loss, accuracy and LR per epoch; data: {label}.")
        ctx.run.write_metrics(metrics)
        if not args.quiet:
            print(f"test accuracy {metrics['test_acc']:.2f}% (val {metrics['val_acc']:.2f}%; data: {label}); "
                  f"model: {metrics['model_path']}")
    return metrics


if __name__ == "__main__":
    main()
