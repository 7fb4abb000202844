"""Train / evaluate / attack MiniPlaces models (BMI/CS 771 HW2) on the shared engine.

    python miniplaces/main.py data/miniplaces --epochs 60                  # SimpleNet
    python miniplaces/main.py data/miniplaces --use-custom-conv --epochs 10
    python miniplaces/main.py data/miniplaces --use-own-cnn
    python miniplaces/main.py data/miniplaces --use-vit --lr 1e-3 --wd 0.05
    python miniplaces/main.py data/miniplaces --use-resnet18 --lr 0.01 --epochs 30
    python miniplaces/main.py data/miniplaces --arch places_resnet              # = --use-own-cnn
    python miniplaces/main.py data/miniplaces -e --resume RUN/models/model_best.pth.tar
    python miniplaces/main.py data/miniplaces -a -v --resume RUN/models/model_best.pth.tar

The course recipe is the default: SGD (AdamW for the ViT) with linear warmup + cosine
decay per iteration, gradient clipping for the ViT only, seed 2024, fp32, training
batches of -b with the last partial batch dropped, validation batches of 100, and
``-e`` averaging the logits of each image and its mirror.  Engine extras are opt-in
(--amp, --clip-grad-all, --seed, --device, ...); checkpoints every epoch, exact
``--resume``, graceful stop on Ctrl-C.  With ``-e``/``-a``, ``--resume`` (the course's
flag) names the checkpoint to evaluate, which is read, never continued.
"""
from __future__ import annotations

import argparse
import functools
import warnings
from dataclasses import dataclass
from pathlib import Path

from common.cli import (add_engine_args, fraction, nonnegative_float, nonnegative_int, positive_float, positive_int,
                        run_context)
from common.errors import UserError, cli_main

from miniplaces.models import ARCHS, Arch, check_arch, choose_arch


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data_folder", help="MiniPlaces root with train.txt, val.txt and images/")
    p.add_argument("-j", "--workers", type=nonnegative_int, default=4, help="DataLoader worker processes (default: 4)")
    p.add_argument("--epochs", type=positive_int, default=90, help="training epochs (default: 90)")
    p.add_argument("--warmup", type=nonnegative_int, default=5, help="linear LR warmup in epochs (default: 5)")
    p.add_argument("--clip-grad", type=nonnegative_float, default=1.0,
                   help="max gradient norm for the ViT (the course clips only the ViT), 0 disables (default: 1.0)")
    p.add_argument("--clip-grad-all", action="store_true", help="apply --clip-grad to every model, not only the ViT")
    p.add_argument("--start-epoch", type=nonnegative_int, default=0,
                   help="epoch to start at when NOT resuming (course flag; --resume restores the epoch itself)")
    p.add_argument("-b", "--batch-size", type=positive_int, default=256,
                   help="global training batch size; the last partial batch is dropped (default: 256)")
    p.add_argument("--val-batch-size", type=positive_int, default=100, help="validation batch size (default: 100)")
    p.add_argument("--lr", "--learning-rate", dest="lr", type=positive_float, default=0.1,
                   help="peak learning rate (default: 0.1; the handout uses 0.01 with --use-vit)")
    p.add_argument("--momentum", type=nonnegative_float, default=0.9, help="SGD momentum (default: 0.9)")
    p.add_argument("--wd", "--weight-decay", dest="wd", type=nonnegative_float, default=1e-4,
                   help="weight decay (default: 1e-4)")
    p.add_argument("-p", "--print-freq", type=positive_int, default=10,
                   help="steps between logged losses (default: 10)")
    p.add_argument("-e", "--evaluate", action="store_true",
                   help="evaluate the --resume checkpoint on val, averaging the logits of each image and its "
                        "mirror; no training")
    p.add_argument("-a", "--attack", action="store_true",
                   help="PGD-attack the --resume checkpoint on val: clean vs attacked top-1/top-5")
    p.add_argument("-v", "--vis", action="store_true",
                   help="with -e: log validation images (Image) to TensorBoard; with -a: Org_Image/Adv_Image and "
                        "a PNG grid")
    p.add_argument("--gpu", type=int, default=None,
                   help="course flag: GPU N, -1 = CPU; sets --device cuda:N / cpu (default: --device decides)")
    models = p.add_argument_group("model (--arch NAME, or one of the course's aliases; default: simplenet)")
    models.add_argument("--arch", choices=list(ARCHS), default=None,
                        help="network, from the table in miniplaces/models.py: "
                             + "; ".join(f"{a.name} = {a.help}" for a in ARCHS.values()))
    for arch in ARCHS.values():
        if arch.alias:
            models.add_argument(arch.alias, action="store_true", help=f"same as --arch {arch.name} ({arch.help})")
    models.add_argument("--own-cnn-width", type=positive_int, default=64,
                        help="base width of places_resnet (--use-own-cnn) (default: 64)")
    models.add_argument("--pretrained-weights", default="imagenet", metavar="imagenet|PATH|none",
                        help="ResNet-18 start: torchvision ImageNet weights (cached in $TORCH_HOME), a local "
                             "state-dict file, or none = random init (offline tests only) (default: imagenet)")
    models.add_argument("--vit-patch-size", type=positive_int, default=16, help="SimpleViT patch size (default: 16)")
    models.add_argument("--wd-skip-norms", action="store_true",
                        help="with AdamW (simplevit): no weight decay on norms, biases and the position embedding "
                             "(default: AdamW decays every parameter, as the course does)")
    attack = p.add_argument_group("attack (-a) and adversarial training")
    attack.add_argument("--attack-steps", type=positive_int, default=10, help="PGD steps (default: 10)")
    attack.add_argument("--attack-step-size", type=positive_float, default=0.01,
                        help="PGD step, normalised units (0.01)")
    attack.add_argument("--attack-epsilon", type=nonnegative_float, default=0.1,
                        help="PGD L-inf bound, normalised units (0.1)")
    attack.add_argument("--attack-grid", action="store_true",
                        help="with -a: also sweep steps {1,5,10} x epsilon {0.03,0.1,0.3} into a table")
    attack.add_argument("--attack-max-batches", type=positive_int, default=None,
                        help="limit -a to N validation batches")
    attack.add_argument("--attack-grid-batches", type=positive_int, default=None,
                        help="limit --attack-grid to N validation batches (it attacks each batch 9 times)")
    attack.add_argument("--adv-train", action="store_true",
                        help="SimpleNet only: train on a clean/PGD mix (bonus; use with a warm start via --init)")
    attack.add_argument("--adv-fraction", type=fraction, default=0.5, help="share of each batch attacked (0.5)")
    attack.add_argument("--init", default="", metavar="PATH",
                        help="start training from these weights (a checkpoint of the same architecture)")
    data = p.add_argument_group("data")
    data.add_argument("--num-classes", type=positive_int, default=100, help="number of classes (default: 100)")
    data.add_argument("--image-size", type=positive_int, default=128,
                      help="crop size (course: 128 with student_code.py's transforms; smaller only for quick toy runs, "
                           "with the course pipelines scaled to it: resize = size * 144/128)")
    data.add_argument("--data-on-device", action="store_true",
                      help="fast path: train from the decoded uint8 cache (python -m miniplaces.cache, built on "
                           "first use) held on the GPU (pinned host memory if it does not fit), with the course "
                           "augmentation applied to whole batches there; -j is then unused (default: off)")
    add_engine_args(p, resume=True)
    course_defaults(p, seed=2024, amp=False)
    return p


def course_defaults(parser: argparse.ArgumentParser, **defaults) -> None:
    """The course's fixed seed 2024 and fp32 replace the engine's defaults (0, AMP on CUDA), help text included."""
    parser.set_defaults(**defaults)
    for action in parser._actions:  # argparse has no public way to reach an added argument's help
        if action.dest == "seed":
            action.help = f"seed for python/numpy/torch and data order (default: {defaults['seed']}, the course's)"
        elif action.dest == "amp":
            action.help = ("mixed precision on CUDA (bf16 if supported, else fp16 + GradScaler); default: off "
                           "(fp32, as the course)")


def check_args(args: argparse.Namespace) -> Arch:
    """Refuse what cannot run, before anything is read or written; returns the chosen table entry."""
    if (args.evaluate or args.attack) and not args.resume:
        raise UserError("-e/-a evaluate a trained model: pass its checkpoint with --resume PATH")
    if args.vis and not (args.evaluate or args.attack):
        raise UserError("-v/--vis shows evaluated or attacked images: use it together with -e or -a")
    if args.gpu is not None:
        if args.device not in ("auto", "cpu" if args.gpu < 0 else f"cuda:{args.gpu}"):
            raise UserError(f"--gpu {args.gpu} and --device {args.device} disagree: pass one of them")
        args.device = "cpu" if args.gpu < 0 else f"cuda:{args.gpu}"
    arch = choose_arch(args)
    check_arch(arch, args)
    args.arch = arch.name  # config.json records the model, whichever flag chose it
    if args.start_epoch >= args.epochs and not (args.resume or args.evaluate or args.attack):
        raise UserError(f"--start-epoch {args.start_epoch} leaves nothing to train with --epochs {args.epochs}")
    if arch.optimizer == "adamw" and args.lr > 0.01:
        warnings.warn(f"--arch {arch.name} (AdamW) with --lr {args.lr}: AdamW usually diverges above ~1e-3 "
                      "(try --lr 1e-3 --wd 0.05)", stacklevel=2)
    return arch


if __name__ == "__main__":  # answer --help and reject bad flags before the heavy imports below
    build_parser().parse_args()

import torch  # noqa: E402

from common.checkpoint import load_checkpoint, load_model_weights  # noqa: E402
from common.data import make_loader  # noqa: E402
from common.engine import EngineConfig, Trainer, classification_step  # noqa: E402
from common.plotting import plot_training_curves  # noqa: E402

from miniplaces.attack import LeastLikelyPGD, vis_grid  # noqa: E402
from miniplaces.custom_dataloader import MiniPlacesLoader, class_names_from, data_label, read_label_file  # noqa: E402
from miniplaces.custom_transforms import sized_transforms  # noqa: E402
from miniplaces.evaluation import attack_eval_step, flip_eval_step, visualise_attack  # noqa: E402
from miniplaces.models import make_optimizer  # noqa: E402
from miniplaces.report import ProfiledStep, pgd_sweep, write_pgd_table  # noqa: E402
from miniplaces.student_code import get_train_transforms, get_val_transforms  # noqa: E402


@dataclass
class RunData:
    """What a run reads, checked before its run directory exists."""

    label: str                                 # what the data is (toy data says so)
    classes: list[str]                         # class names, from the training list
    train_set: MiniPlacesLoader | None = None  # the JPEG datasets: without --data-on-device, train only when training
    val_set: MiniPlacesLoader | None = None


def jpeg_dataset(args: argparse.Namespace, split: str) -> MiniPlacesLoader:
    """student_code's transforms; another --image-size (toy runs) gets the course pipelines at that size."""
    train = split == "train"
    if args.image_size != 128:
        transforms = sized_transforms(train, args.image_size)
    else:
        transforms = get_train_transforms() if train else get_val_transforms()
    return MiniPlacesLoader(args.data_folder, num_classes=args.num_classes, split=split, transforms=transforms)


def read_data(args: argparse.Namespace, train: bool) -> RunData:
    """The JPEG datasets, or with --data-on-device only the label lists (the decoded cache is read inside
    the run).  ``train=False`` (-e/-a): of the training split only its list, for the class names."""
    root = Path(args.data_folder)
    train_set = jpeg_dataset(args, "train") if train and not args.data_on_device else None
    entries = train_set.entries if train_set is not None else read_label_file(root / "train.txt", args.num_classes)
    if args.data_on_device:
        read_label_file(root / "val.txt", args.num_classes)
    val_set = None if args.data_on_device else jpeg_dataset(args, "val")
    if train and len(entries) < args.batch_size:
        raise UserError(f"the training set has {len(entries)} images, fewer than one batch of -b {args.batch_size} "
                        "(the last partial batch is dropped, as in the course); lower -b")
    return RunData(data_label(root), class_names_from(entries, args.num_classes), train_set, val_set)


def make_loaders(args: argparse.Namespace, ctx, data: RunData, train: bool):
    """(training loader or None, validation loader): JPEG DataLoaders, or the decoded cache resident on the device."""
    if args.data_on_device:  # batched augmentation on the device (device_data.py)
        from miniplaces.device_data import resident_loaders
        return resident_loaders(args.data_folder, image_size=args.image_size, num_classes=args.num_classes,
                                batch_size=args.batch_size, val_batch_size=args.val_batch_size, device=ctx.device,
                                seed=args.seed, dist_info=ctx.dist, quiet=args.quiet, train=train)
    loader = functools.partial(make_loader, seed=args.seed, workers=args.workers, dist_info=ctx.dist,
                               device=ctx.device)
    train_loader = loader(data.train_set, args.batch_size, train=True, drop_last=True) if train else None
    return train_loader, loader(data.val_set, args.val_batch_size, train=False)


def make_attacker(args: argparse.Namespace) -> LeastLikelyPGD:
    return LeastLikelyPGD(num_steps=args.attack_steps, step_size=args.attack_step_size, epsilon=args.attack_epsilon)


class CourseTrainer(Trainer):
    """The engine's Trainer; checkpoints also carry the course's ``best_acc1``/``model_arch`` keys,
    so the course's main.py can ``--resume`` them."""

    def state(self, epoch: int, step: int, meters=None) -> dict:
        return {**super().state(epoch, step, meters), "best_acc1": self.best_metric or 0.0, "model_arch": self.arch}


def train(trainer: Trainer, args, ctx, data: str) -> dict:
    if args.resume:
        trainer.resume(args.resume)
    elif args.start_epoch:
        trainer.start_at(args.start_epoch)
    history = trainer.fit()
    metrics = trainer.final_metrics()
    if ctx.dist.is_main and history:
        plot_training_curves(history, ctx.run.figure_path("training_curves"), title=f"{trainer.arch} on {data}",
                             caption=f"Loss, top-1/top-5 (train/val) and learning rate per epoch; data: {data}.")
    return metrics


def attack(trainer: Trainer, val_loader, args, ctx, data: str, class_names) -> dict:
    attacker = make_attacker(args)
    loader = val_loader if args.attack_max_batches is None else \
        [b for _, b in zip(range(args.attack_max_batches), val_loader)]
    result = trainer.evaluate(loader, step_fn=attack_eval_step(attacker), desc="attack")
    metrics = {"attack_clean_acc1": result["acc1_clean"], "attack_clean_acc5": result["acc5_clean"],
               "attack_acc1": result["acc1"], "attack_acc5": result["acc5"], "attack_linf": result["linf"],
               "attack": repr(attacker)}
    print(f"PGD ({attacker}): clean top-1 {metrics['attack_clean_acc1']:.2f}% top-5 {metrics['attack_clean_acc5']:.2f}%"
          f" -> attacked top-1 {metrics['attack_acc1']:.2f}% top-5 {metrics['attack_acc5']:.2f}%  (data: {data})")
    if not ctx.dist.is_main:
        return metrics
    if args.vis:
        images, targets = next(iter(val_loader))
        visualise_attack(trainer.module, attacker, images.to(ctx.device), targets.to(ctx.device), class_names,
                         ctx.run, data=data)
    if args.attack_grid:
        rows = pgd_sweep(trainer.module, val_loader, ctx.device,
                         max_batches=args.attack_grid_batches or args.attack_max_batches)
        write_pgd_table(rows, ctx.run, title=f"PGD sweep on {trainer.arch}", data=data)
    return metrics


@cli_main
def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    arch = check_args(args)
    eval_only = args.evaluate or args.attack
    data = read_data(args, train=not eval_only)  # bad data fails before a run directory is created
    # Weights are read (and checked) before the run directory exists too.  -e/-a's --resume names a
    # checkpoint that is only read: this run writes a directory of its own and continues nothing.
    name = arch.arch_name(args)
    evaluated = load_checkpoint(args.resume, expected_arch=name) if eval_only else None
    init = load_checkpoint(args.init, expected_arch=name, flag="--init") if args.init else None
    continued = None if eval_only else args.resume or None  # a resume is refused before anything is written
    with run_context(args, "miniplaces", resume=continued, epochs=args.epochs, arch=name) as ctx:
        return run(args, ctx, arch, data, evaluated=evaluated, init=init)


def run(args: argparse.Namespace, ctx, arch: Arch, data: RunData, *, evaluated: dict | None = None,
        init: dict | None = None) -> dict:
    """Train (or, given the ``evaluated`` checkpoint, evaluate/attack) the ``arch`` network."""
    eval_only = evaluated is not None
    train_loader, val_loader = make_loaders(args, ctx, data, train=not eval_only)
    model = arch.build(args, args.num_classes)
    if init is not None:
        load_model_weights(model, init, args.init)
    if args.adv_train:
        model.attacker, model.adv_fraction = make_attacker(args), args.adv_fraction
    profile = ProfiledStep(classification_step, ctx.device)
    clip = args.clip_grad if (arch.clip or args.clip_grad_all) else None  # the course clips the ViT only
    cfg = EngineConfig(epochs=args.epochs, warmup_epochs=args.warmup, clip_grad=clip,
                       print_freq=args.print_freq, quiet=args.quiet, topk=(1, 5))
    name = arch.arch_name(args)
    trainer = CourseTrainer(model, make_optimizer(arch, model, args), train_loader, val_loader, ctx=ctx, cfg=cfg,
                            step_fn=profile, eval_step_fn=classification_step, arch=name, args=args)
    metrics = {"data": data.label, "arch": name, "params": sum(p.numel() for p in model.parameters())}
    if eval_only:
        load_model_weights(trainer.module, evaluated, args.resume)
        metrics["checkpoint"] = args.resume
    else:
        metrics.update(train(trainer, args, ctx, data.label))
        metrics.update({"seconds_per_iter": profile.seconds_per_iter(),
                        "saved_activation_MB": (profile.saved_bytes or 0) / 2**20})
        if ctx.device.type == "cuda":
            metrics["cuda_peak_MB"] = torch.cuda.max_memory_allocated(ctx.device) / 2**20
    if args.evaluate or not eval_only:
        flip = trainer.evaluate(val_loader, step_fn=flip_eval_step, desc="flip eval")
        metrics.update({f"flip_val_{k}": v for k, v in flip.items()})
        print(f"val (flip-averaged): top-1 {flip['acc1']:.2f}%  top-5 {flip['acc5']:.2f}%  (data: {data.label})")
    if args.evaluate and args.vis and ctx.dist.is_main:  # the course's -e -v: validation images in TensorBoard
        images = next(iter(val_loader))[0]
        ctx.run.tb.add_image("Image", vis_grid(images), 0)
    if args.attack:
        metrics.update(attack(trainer, val_loader, args, ctx, data.label, data.classes))
    if ctx.dist.is_main:
        ctx.run.write_metrics(metrics)
        print(f"run directory: {ctx.run.path}")
    return metrics


if __name__ == "__main__":
    main()
