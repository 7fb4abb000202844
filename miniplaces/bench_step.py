"""Benchmark: a MiniPlaces training step end to end on both data paths, against the model-only step.

    python scripts/bench.py step                                  # toy scenes at 128 px on this machine
    python scripts/bench.py step --device cuda --json step.json   # batch 256, AMP (bf16) as on a GPU server
    python scripts/bench.py step --device cuda --compile --channels-last --arch places_resnet

Everything runs in one process, through the engine's own training loop
(:meth:`common.engine.Trainer.train_one_epoch`), with one model and optimizer from
``miniplaces/main.py``'s table (``--arch``, default SimpleNet):

* model only: the same normalised batch, already on the device, every step: the rate the
  model allows;
* JPEG loader: ``MiniPlacesLoader`` + the course transforms through ``make_loader`` with
  ``-j`` workers (pinned memory on CUDA), as ``main.py`` trains by default;
* ``--data-on-device``: the decoded uint8 cache resident on the device and the course
  augmentation applied there per batch (:mod:`miniplaces.device_data`).

Each path gets a warm-up epoch (``--compile`` compiles there), then ``--repeats`` timed epochs
of ``--steps`` steps, interleaved so machine load hits all alike; the best counts.  The ratio
end to end / model only is what the data path costs (1.0: nothing).  Host syncs per step are
counted in one more epoch per path (:func:`common.syncs.count_training_syncs`; on a CPU with
the GPU's augmentation kernel, grid_sample, forced, since the CPU's own kernel is host code).
Also timed: one batch of the GPU augmentation kernel as it was (the batch split by interpolation
mode, a ``nonzero`` per mode) and as it is (every mode over the batch, kept per image with
``torch.where``).  Without ``--data`` the data are toy scenes (not MiniPlaces) in a temp folder.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
import types
from pathlib import Path

from common.cli import COMPILE_BACKENDS, nonnegative_int, positive_int
from common.device import exact_fp32

from miniplaces.models import ARCHS

STEP_PATHS = ("model_only", "jpeg", "device")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="a MiniPlaces folder (default: toy scenes in a temp folder)")
    parser.add_argument("--num-classes", type=positive_int, default=100, help="labels of --data (default: 100)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    parser.add_argument("--arch", default="simplenet", choices=list(ARCHS),
                        help="a model of miniplaces/main.py --arch (default: simplenet)")
    parser.add_argument("-b", "--batch-size", type=positive_int, default=None,
                        help="batch size (default: 256, the course's, on a GPU; 64 on a CPU)")
    parser.add_argument("--image-size", type=positive_int, default=128, help="crop size (default: 128, the course's)")
    parser.add_argument("--steps", type=positive_int, default=None,
                        help="steps per timed epoch (default: 20 on a GPU, 4 on a CPU)")
    parser.add_argument("--repeats", type=positive_int, default=2, help="timed epochs per path (default: 2)")
    parser.add_argument("-j", "--workers", type=nonnegative_int, default=4, help="JPEG path workers (default: 4)")
    parser.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True,
                        help="mixed precision on CUDA (bf16 if supported); no effect on CPU (default: on)")
    parser.add_argument("--compile", nargs="?", const="inductor", default=None, choices=COMPILE_BACKENDS,
                        metavar="BACKEND", help="torch.compile the model (default backend inductor)")
    parser.add_argument("--channels-last", action="store_true", help="channels-last model and batches")
    parser.add_argument("--tf32", action=argparse.BooleanOptionalAction, default=True,
                        help="TF32 on CUDA, as training's --tf32 (default: on)")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    return parser


def main(argv=None) -> dict:
    from common.errors import cli_main

    return cli_main(_main)(argv)


def _main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    from common.device import compile_problem, resolve_device, restore_tf32, set_tf32, tf32_state
    from common.errors import UserError
    from common.io import atomic_write_text

    device = resolve_device(args.device)
    on_cpu = device.type == "cpu"  # a SimpleNet step of 256 images takes ~10 s on 2 CPU cores
    args.batch_size = args.batch_size or (64 if on_cpu else 256)
    args.steps = args.steps or (4 if on_cpu else 20)
    problem = compile_problem(args.compile, device) if args.compile else None
    if problem:
        raise UserError(problem)
    with tempfile.TemporaryDirectory(prefix="bench_step_") as tmp:
        root, classes = args.data, args.num_classes
        if root is None:
            from miniplaces.toy_data import make_toy_miniplaces

            classes = 10
            per_class = -(-args.batch_size * args.steps // classes)
            root = make_toy_miniplaces(Path(tmp) / "toy", classes=classes, train_per_class=per_class,
                                       val_per_class=1, size=128)
        before = tf32_state()
        try:
            if device.type == "cuda":
                set_tf32(args.tf32)  # what training does (common/device.py)
            results = run(root, args, device, classes)
        finally:
            restore_tf32(before)
    results["data"] = "toy scenes, 128 px (not MiniPlaces)" if args.data is None else str(args.data)
    print(report(results), flush=True)
    if args.json:
        atomic_write_text(args.json, json.dumps(results, indent=2, default=float) + "\n")
    return results


class ConstantBatches:
    """``n`` steps of the same (inputs, labels) batch, already on the device: the model-only loader."""

    def __init__(self, batch, n: int):
        self.batch, self.n = batch, n

    def __len__(self) -> int:
        return self.n

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None:
        pass

    def __iter__(self):
        return (self.batch for _ in range(self.n))


def _model_and_optimizer(root, args, classes: int):
    from miniplaces.main import build_parser as main_parser
    from miniplaces.main import check_args
    from miniplaces.models import make_optimizer

    flags = main_parser().parse_args([str(root), "--arch", args.arch, "--num-classes", str(classes),
                                      "--image-size", str(args.image_size), "--pretrained-weights", "none"])
    arch = check_args(flags)
    model = arch.build(flags, classes)
    return model, make_optimizer(arch, model, flags)


def _loaders(root, args, device, classes: int, model_batch) -> dict:
    import torch

    from common.data import make_loader
    from miniplaces.cache import ensure_cache
    from miniplaces.custom_dataloader import MiniPlacesLoader
    from miniplaces.custom_transforms import scale_size, sized_transforms
    from miniplaces.device_data import CourseAugment, ResidentBatches, place

    n = args.batch_size * args.steps
    jpeg_set = MiniPlacesLoader(root, num_classes=classes, split="train",
                                transforms=sized_transforms(True, args.image_size))
    jpeg_set = torch.utils.data.Subset(jpeg_set, range(min(n, len(jpeg_set))))
    images, labels = ensure_cache(root, "train", scale_size(args.image_size), classes, quiet=True)
    return {"model_only": ConstantBatches(model_batch, args.steps),
            "jpeg": make_loader(jpeg_set, args.batch_size, train=True, workers=args.workers, device=device,
                                drop_last=True),
            "device": ResidentBatches(place(images[:n], device), torch.from_numpy(labels[:n]), args.batch_size,
                                      train=True, transform=CourseAugment(args.image_size), device=device)}


def run(root, args, device, classes: int) -> dict:
    """Warm up, time and count syncs on every path; returns the figures."""
    import torch

    from common.engine import EngineConfig, Trainer
    from common.runctx import RunContext

    model, optimizer = _model_and_optimizer(root, args, classes)
    x = torch.randn(args.batch_size, 3, args.image_size, args.image_size, device=device)
    if args.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    batch = (x, torch.randint(0, classes, (args.batch_size,), device=device))
    loaders = _loaders(root, args, device, classes, batch)
    ctx = RunContext.local(device, amp=args.amp, compile=args.compile, channels_last=args.channels_last)
    cfg = EngineConfig(epochs=10_000, print_freq=10, quiet=True, topk=(1, 5))  # LR stays at its peak
    trainers = {name: Trainer(model, optimizer, loader, None, ctx=ctx, cfg=cfg, arch=args.arch)
                for name, loader in loaders.items()}
    results = {"device": str(device), "arch": args.arch, "batch": args.batch_size, "image_size": args.image_size,
               "steps": args.steps, "precision": ctx.precision.name, "compile": args.compile,
               "channels_last": args.channels_last, "tf32": device.type == "cuda" and args.tf32,
               "workers": args.workers, "torch": torch.__version__,
               "torch_threads": torch.get_num_threads(), "device_kernel": _kernel(device)}
    for name, trainer in trainers.items():  # warm-up: allocator, cuDNN autotuning, compilation
        results[f"{name}_warmup_seconds"] = _epoch_seconds(trainer, 0, device)[0]
    best: dict[str, float] = {}
    for epoch in range(1, args.repeats + 1):
        for name, trainer in trainers.items():
            seconds, images = _epoch_seconds(trainer, epoch, device)
            best[name] = max(best.get(name, 0.0), images / seconds)
    for name in trainers:
        results[f"{name}_images_per_s"] = best[name]
        results[f"{name}_over_model_only"] = best[name] / best["model_only"]
        results[f"{name}_syncs_per_step"] = _syncs_per_step(trainers[name], args.repeats + 1, device)
    results.update(augment_kernels(device, args.batch_size, args.image_size))
    return results


def _kernel(device) -> str:
    return "opencv (CPU)" if device.type == "cpu" else "grid_sample"


def _epoch_seconds(trainer, epoch: int, device) -> tuple[float, int]:
    """Seconds of one training epoch through the engine, and its images."""
    from common.device import synchronize

    synchronize(device)
    start = time.perf_counter()
    trainer.train_one_epoch(epoch, types.SimpleNamespace(signum=None))  # no signal handling needed here
    synchronize(device)
    loader = trainer.train_loader
    batch = getattr(loader, "local_batch", None) or getattr(loader, "batch_size", None) or len(loader.batch[1])
    return time.perf_counter() - start, len(loader) * batch


def _syncs_per_step(trainer, epoch: int, device) -> float:
    """Mean host syncs per step between logging points, in one epoch (the GPU's augmentation kernel)."""
    from common.syncs import count_training_syncs
    from miniplaces.device_data import CourseAugment

    transform = getattr(trainer.train_loader, "transform", None)
    forced = isinstance(transform, CourseAugment) and device.type == "cpu"
    if forced:
        transform.kernel = "grid_sample"
    try:
        with count_training_syncs() as steps:
            trainer.train_one_epoch(epoch, types.SimpleNamespace(signum=None))
    finally:
        if forced:
            del transform.kernel
    quiet = [s.total for s in steps if not s.logging]
    return sum(quiet) / max(1, len(quiet))


@exact_fp32()  # it compares two kernels (common/device.py's TF32 policy)
def augment_kernels(device, batch: int, size: int, rounds: int = 3) -> dict:
    """ms per batch and host syncs of the GPU augmentation kernel: split by mode (before) vs all modes + where."""
    import torch

    from common.augment import INTERPOLATION_MODES, scale_clip_normalize, warp
    from common.device import synchronize
    from common.images import IMAGENET_MEAN, IMAGENET_STD
    from common.syncs import SyncCounter
    from common.timing import seconds_per_call
    from miniplaces.custom_transforms import scale_size
    from miniplaces.device_data import augment, params_theta, sample_params

    side = scale_size(size)
    images = torch.randint(0, 256, (batch, side, side, 3), dtype=torch.uint8, device=device)
    p = sample_params(batch, side, device, torch.Generator(device=device).manual_seed(0))

    def split_by_mode():  # the kernel before: one grid_sample per mode drawn, on that mode's images
        theta, x = params_theta(p, side), images.permute(0, 3, 1, 2).float()
        out = x.new_empty(batch, 3, size, size)
        for m, name in enumerate(INTERPOLATION_MODES):
            sel = (p.mode == m).nonzero().squeeze(1)
            if len(sel):
                out[sel] = warp(x[sel], theta[sel], (size, size), "reflection", name).clamp_(0, 255)
        return scale_clip_normalize(out, p.colour, IMAGENET_MEAN, IMAGENET_STD)

    def all_modes():
        return augment(images, p, size, "grid_sample")

    synchronize(device)
    kernels, figures = (("split_by_mode", split_by_mode), ("all_modes_where", all_modes)), {}
    for _ in range(rounds):  # interleaved, the fastest round counts: a loaded machine slows both alike
        for name, fn in kernels:
            ms = 1000 * seconds_per_call(fn, device, steps=2, warmup=1)
            figures[f"augment_{name}_ms"] = min(ms, figures.get(f"augment_{name}_ms", ms))
    for name, fn in kernels:
        with SyncCounter() as counter:
            fn()
        figures[f"augment_{name}_syncs"] = counter.total
    # Equal on a CPU; a GPU's batched affine_grid may pick another kernel for another batch size.
    figures["augment_max_abs_diff"] = float((split_by_mode() - all_modes()).abs().max())
    return figures


def report(results: dict) -> str:
    names = {"model_only": "model only (batch already on the device)",
             "jpeg": f"JPEG loader (-j {results['workers']})",
             "device": f"--data-on-device ({results['device_kernel']})"}
    lines = [f"MiniPlaces training step: {results['arch']}, batch {results['batch']}, {results['image_size']} px, "
             f"{results['device']}, {results['precision']}, compile {results['compile'] or 'off'}, channels-last "
             f"{'on' if results['channels_last'] else 'off'}, torch {results['torch']} "
             f"({results['torch_threads']} threads); data: {results['data']}",
             f"{'path':<48} {'images/s':>9} {'/ model':>8} {'syncs/step':>11} {'warm-up s':>10}"]
    for key, label in names.items():
        lines.append(f"{label:<48} {results[f'{key}_images_per_s']:9.1f} {results[f'{key}_over_model_only']:8.2f} "
                     f"{results[f'{key}_syncs_per_step']:11.2f} {results[f'{key}_warmup_seconds']:10.1f}")
    lines.append("host syncs counted with the GPU's augmentation kernel (grid_sample)"
                 + (", forced on the CPU" if results["device"] == "cpu" else ""))
    lines.append(f"augmentation kernel, one batch: split by mode {results['augment_split_by_mode_ms']:.1f} ms "
                 f"({results['augment_split_by_mode_syncs']} syncs); all modes + where "
                 f"{results['augment_all_modes_where_ms']:.1f} ms ({results['augment_all_modes_where_syncs']} syncs); "
                 f"largest difference {results['augment_max_abs_diff']:.2g}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
