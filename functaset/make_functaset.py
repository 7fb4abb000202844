"""Build a functaset in the course format from an image dataset (beyond the course).

    python -m functaset.make_functaset --source digits --preset demo --out data/functaset_digits
    python -m functaset.make_functaset --source fmnist --preset course --out data/functaset --download

Writes ``<name>_{train,val,test}.pkl`` (joblib list of ``{'modul', 'label'}``, readable by
the course's ``joblib.load``), ``modSiren.pth`` (``{'epoch', 'state_dict', 'loss', 'config'}``)
and ``functaset.json`` (what data it holds, sizes, PSNR per split).
Stage 1 meta-learns the shared SIREN with the common engine (checkpoints every epoch,
``--resume`` continues it); stage 2 fits every image's modulation, batched.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from common.cli import add_engine_args, nonnegative_float, nonnegative_int, positive_float, positive_int, run_context
from common.errors import UserError, cli_main
from common.io import atomic_write_json

from functaset.defaults import default_source_root


PRESETS = {
    # The course functaset: SIREN 256 x 10, 512-d modulations, 20 fitting steps.
    "course": dict(hidden=256, depth=10, modul_dim=512, w0=30.0, meta_epochs=20, meta_batch=128, meta_lr=1e-4,
                   meta_schedule="constant", inner_steps=3, inner_lr=0.01, fit_optimizer="sgd", fit_steps=20,
                   fit_lr=0.01, fit_batch=128, train_size=35000, val_size=5000, limit=None),
    # Small and CPU-friendly (the demo): a 64 x 2 SIREN, 128-d modulations.  Tuned on the embedded
    # digits (ANSWERS.md, "Building the demo functaset"): w0 = 3 suits their smooth, 8x8-derived
    # strokes on raw pixel coordinates (w0 = 30 aliases), an inner LR of 1 lets 3 steps move the
    # modulation, a cosine-decayed outer LR keeps meta-learning from falling back (a constant
    # 3e-3 did), and L-BFGS fits the stored modulations (SGD at LR 1 past 3 steps overshoots).
    "demo": dict(hidden=64, depth=2, modul_dim=128, w0=3.0, meta_epochs=12, meta_batch=16, meta_lr=3e-3,
                 meta_schedule="cosine", inner_steps=3, inner_lr=1.0, fit_optimizer="lbfgs", fit_steps=40,
                 fit_lr=1.0, fit_batch=128, train_size=None, val_size=5000, limit=None),
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", choices=["fmnist", "mnist", "digits"], default="digits",
                   help="image dataset: Fashion-MNIST, MNIST (torchvision) or the embedded sklearn digits "
                        "(offline) (default: digits)")
    p.add_argument("--source-path", default=None,
                   help=f"torchvision root for fmnist/mnist (default: {default_source_root()})")
    p.add_argument("--download", action="store_true", help="let torchvision download fmnist/mnist if missing")
    p.add_argument("--out", required=True, help="output folder (must not already hold a functaset)")
    p.add_argument("--name", default=None, help="file prefix <name>_{train,val,test}.pkl "
                                                "(default: fmnist for --source fmnist, else the source name)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="demo", help="sizes and schedules (default: demo)")
    sizes = p.add_argument_group("overrides of the preset (default: the preset's value)")
    pos_int, pos_float = positive_int, positive_float
    for flag, typ, text in [("hidden", pos_int, "SIREN width"), ("depth", pos_int, "SIREN layers"),
                            ("modul-dim", pos_int, "modulation vector length"), ("w0", pos_float, "SIREN frequency"),
                            ("meta-epochs", nonnegative_int,
                             "stage 1 epochs over the train split (0: skip meta-learning)"),
                            ("meta-batch", pos_int, "stage 1 images per outer step"),
                            ("meta-lr", pos_float, "outer Adam LR"),
                            ("meta-schedule", str, "outer LR schedule: constant or cosine"),
                            ("inner-steps", pos_int, "stage 1 inner SGD steps"),
                            ("inner-lr", pos_float, "inner SGD LR"),
                            ("fit-steps", pos_int, "stage 2 steps per image"), ("fit-lr", pos_float, "stage 2 SGD LR"),
                            ("fit-batch", pos_int, "stage 2 images fitted at once"),
                            ("train-size", pos_int, "training images taken from the source's train set"),
                            ("val-size", pos_int, "validation images taken from the source's train set"),
                            ("limit", pos_int, "use only the first N images of every split (quick runs)")]:
        sizes.add_argument(f"--{flag}", type=typ, default=None, help=text)
    p.add_argument("--second-order", action="store_true", help="differentiate through the inner steps")
    p.add_argument("--fit-optimizer", choices=["sgd", "lbfgs"], default=None,
                   help="stage 2 optimiser: SGD from zero (the reference) or L-BFGS (default: the preset's: "
                        "course sgd, demo lbfgs)")
    p.add_argument("--clip-grad", type=nonnegative_float, default=1.0, help="stage 1 gradient-norm clip (default: 1)")
    p.add_argument("--siren", default=None, help="skip stage 1: use this modSiren.pth (e.g. the course one)")
    add_engine_args(p, training=False, resume=True)
    return p


if __name__ == "__main__":  # answer --help and reject bad flags before the heavy imports below
    build_parser().parse_args()

import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import TensorDataset  # noqa: E402

from common.checkpoint import atomic_torch_save, load_checkpoint, load_model_weights  # noqa: E402
from common.data import make_loader  # noqa: E402
from common.engine import EngineConfig, Trainer  # noqa: E402
from common.images import to_unit  # noqa: E402
from common.plotting import plot_training_curves, save_figure  # noqa: E402
from common.schedule import WARMUP_CONSTANT, WARMUP_COSINE  # noqa: E402

from functaset.SIREN import ModulatedSIREN  # noqa: E402
from functaset.fitting import fit_dataset, make_meta_step, psnr  # noqa: E402
from functaset.sources import limit, load_source  # noqa: E402
from functaset.utils import INFO_FILE, SIREN_FILE, split_path, write_split  # noqa: E402


def resolve_settings(args) -> dict:
    """The preset with every flag the user gave laid over it."""
    settings = dict(PRESETS[args.preset])
    for key in settings:
        value = getattr(args, key, None)
        if value is not None:
            settings[key] = value
    settings["second_order"] = args.second_order
    if settings["meta_schedule"] not in ("constant", "cosine"):
        raise UserError(f"--meta-schedule must be constant or cosine, got {settings['meta_schedule']!r}")
    return settings


def check_out_dir(out: Path, name: str) -> None:
    """Nothing saved gets overwritten: refuse a folder that already holds this functaset."""
    existing = [p for p in [*(split_path(out, s, name) for s in ("train", "val", "test")), out / SIREN_FILE]
                if p.exists()]
    if existing:
        raise UserError(f"{out} already holds {existing[0].name}; choose another --out (nothing was overwritten)")


def meta_learn(inr: ModulatedSIREN, images: torch.Tensor, s: dict, args, ctx) -> Trainer:
    """Stage 1 on the common engine: outer Adam over the SIREN, inner SGD over modulations."""
    loader = make_loader(TensorDataset(to_unit(images)), s["meta_batch"], train=True, seed=args.seed,
                         dist_info=ctx.dist, device=ctx.device, drop_last=True)
    opt = torch.optim.Adam(inr.parameters(), lr=s["meta_lr"])
    cfg = EngineConfig(epochs=s["meta_epochs"], clip_grad=args.clip_grad, quiet=args.quiet, topk=(1,),
                       monitor="psnr", monitor_mode="max",
                       schedule=WARMUP_CONSTANT if s["meta_schedule"] == "constant" else WARMUP_COSINE,
                       print_freq=10)
    trainer = Trainer(inr, opt, loader, None, ctx=ctx, cfg=cfg,
                      step_fn=make_meta_step(s["inner_steps"], s["inner_lr"], s["second_order"]),
                      arch=f"modsiren_{s['hidden']}x{s['depth']}_m{s['modul_dim']}", args=args)
    if args.resume:
        trainer.resume(args.resume)
    trainer.fit()
    return trainer


def shared_siren(s: dict, args, ctx, train_images) -> tuple[ModulatedSIREN, list]:
    """The SIREN every image shares: loaded (--siren) or meta-learned now."""
    inr = ModulatedSIREN(hidden=s["hidden"], depth=s["depth"], modul_features=s["modul_dim"], w0=s["w0"])
    if args.siren:
        ckpt = load_checkpoint(args.siren, map_location="cpu", flag="--siren")
        load_model_weights(inr, ckpt, args.siren)
        return inr.to(ctx.device), []
    if s["meta_epochs"] <= 0:
        return inr.to(ctx.device), []
    trainer = meta_learn(inr, train_images, s, args, ctx)
    return trainer.module, trainer.history


def fit_splits(inr, data: dict, s: dict, args, ctx, out: Path, name: str) -> dict:
    """Stage 2 for every split; writes the .pkl files and returns PSNR statistics."""
    stats = {}
    mean_image = to_unit(limit(data["train"], s["limit"])[0]).mean(dim=0)  # (H, W): the no-information baseline
    for split in ("train", "val", "test"):
        images, labels = limit(data[split], s["limit"])
        baseline = psnr((to_unit(images) - mean_image).pow(2).flatten(1).mean(dim=1))  # (N,)
        t0 = time.perf_counter()
        vectors, psnrs = fit_dataset(inr, images, steps=s["fit_steps"], lr=s["fit_lr"], batch_size=s["fit_batch"],
                                     device=ctx.device, optimizer=s["fit_optimizer"], desc=f"fit {split}",
                                     quiet=args.quiet)
        write_split(split_path(out, split, name), vectors.numpy(), labels.numpy())
        stats[split] = {"n": len(labels), "psnr_mean": float(psnrs.mean()), "psnr_std": float(psnrs.std()),
                        "mean_image_psnr": float(baseline.mean()), "seconds": time.perf_counter() - t0}
        if not args.quiet:
            print(f"{split}: {len(labels)} images, PSNR {psnrs.mean():.2f} +- {psnrs.std():.2f} dB "
                  f"(mean training image: {baseline.mean():.2f} dB)", flush=True)
        if split == "test":
            stats["_preview"] = (images[:8], vectors[:8])
    return stats


def plot_reconstructions(originals, decoded, titles, path, *, title: str, caption: str) -> None:
    """Originals above their decoded images, both on a fixed 0-1 grey scale."""
    n = len(originals)
    fig, axes = plt.subplots(2, n, figsize=(1.8 * n, 4.8), squeeze=False)
    for ax, img, text in zip(axes.flat, [*originals, *decoded], titles):
        ax.imshow(img.numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(text, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title)
    save_figure(fig, path, caption)


def save_outputs(inr, history, stats, data, s, args, ctx, out: Path, name: str, started: float) -> dict:
    """modSiren.pth, functaset.json, metrics.json and the figures."""
    config = inr.config()
    loss = history[-1].get("train_loss") if history else None
    atomic_torch_save({"epoch": len(history), "state_dict": inr.state_dict(), "loss": loss, "config": config},
                      out / SIREN_FILE)
    images, vectors = stats.pop("_preview")
    info = {"data": data["data"], "source": args.source, "preset": args.preset, "name": name, "config": config,
            "settings": s, "class_names": data["class_names"], "splits": stats,
            "build_seconds": round(time.perf_counter() - started, 1)}
    atomic_write_json(out / INFO_FILE, info)
    originals = to_unit(images)
    with torch.no_grad():
        decoded = inr(vectors.to(ctx.device)).clamp(0, 1).cpu()  # (8, H, W)
    each = psnr((decoded - originals).pow(2).flatten(1).mean(dim=1)).tolist()
    titles = [f"original {i}" for i in range(len(images))] + [f"decoded: {p:.1f} dB" for p in each]
    plot_reconstructions(originals, decoded, titles, ctx.run.figure_path("reconstructions"),
                         title=f"Functa reconstructions ({args.source}, first test images)",
                              caption=f"Top: images; bottom: decoded by the SIREN from their fitted modulations (PSNR "
                                 f"each; test mean {stats['test']['psnr_mean']:.1f} dB, mean training image "
                                 f"{stats['test']['mean_image_psnr']:.1f} dB); data: {data['data']}.")
    if history:
        plot_training_curves(history, ctx.run.figure_path("meta_learning"), title="Stage 1 meta-learning",
                             caption=f"Outer loss per epoch (train split); data: {data['data']}.")
    metrics = {"data": data["data"], "out": str(out), **{f"psnr_{k}": v["psnr_mean"] for k, v in stats.items()},
               **{f"mean_image_psnr_{k}": v["mean_image_psnr"] for k, v in stats.items()},
               **{f"n_{k}": v["n"] for k, v in stats.items()}, "build_seconds": info["build_seconds"]}
    ctx.run.write_metrics(metrics)
    return metrics


@cli_main
def main(argv=None) -> dict:
    started = time.perf_counter()
    args = build_parser().parse_args(argv)
    s = resolve_settings(args)
    out = Path(args.out)
    name = args.name or args.source
    check_out_dir(out, name)
    with run_context(args, "functaset", resume=args.resume or None) as ctx:
        return build(args, ctx, s, out, name, started)


def build(args, ctx, s: dict, out: Path, name: str, started: float) -> dict:
    data = load_source(args.source, args.source_path, download=args.download, train_size=s["train_size"],
                       val_size=s["val_size"], seed=args.seed)
    train_images, _ = limit(data["train"], s["limit"])
    inr, history = shared_siren(s, args, ctx, train_images)
    if not ctx.dist.is_main:  # stage 2 fits images independently: rank 0 does it and writes the files
        return {}
    out.mkdir(parents=True, exist_ok=True)
    stats = fit_splits(inr, data, s, args, ctx, out, name)
    metrics = save_outputs(inr, history, stats, data, s, args, ctx, out, name, started)
    if not args.quiet:
        print(f"functaset written to {out} (data: {data['data']}); run: {ctx.run.path}")
    return metrics


if __name__ == "__main__":
    main()
