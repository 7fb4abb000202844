"""Benchmark: images/s of one epoch of MiniPlaces training batches, JPEG path vs ``--data-on-device``.

    python scripts/bench.py loader                                   # toy data at the real size, CPU
    python scripts/bench.py loader --data data/miniplaces --device cuda

Both paths deliver the same thing -- normalised, course-augmented (3, 128, 128) float
batches of 256 on the training device, in a seeded shuffled order -- and no model runs,
so the figure is what the data side can feed.  JPEG path: ``MiniPlacesLoader`` +
``get_train_transforms`` through ``common.data.make_loader`` with ``-j`` 0, 2 and 4
worker processes (a fresh pool per epoch, as in training; its start-up is part of the
epoch).  Device path: the decoded cache (:mod:`miniplaces.cache`) resident on the
device, :class:`miniplaces.device_data.CourseAugment` per batch.  Without ``--data`` it
writes toy scenes at 128 px (not MiniPlaces) into a temporary folder and also times
building their cache.  Each path runs ``--repeats`` epochs, interleaved, and reports its
best; all figures come from one run, so their ratios are comparable on a loaded machine.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from common.cli import nonnegative_int, positive_int
from common.data import make_loader
from common.device import resolve_device, synchronize
from common.io import atomic_write_text

from miniplaces.cache import ensure_cache
from miniplaces.custom_dataloader import MiniPlacesLoader
from miniplaces.custom_transforms import scale_size, sized_transforms
from miniplaces.device_data import CourseAugment, ResidentBatches, place


def time_epoch(loader, device: torch.device, epoch: int) -> tuple[float, int]:
    """Seconds for one epoch of batches on ``device``, and the number of images."""
    if hasattr(loader, "set_epoch"):  # the engine's loader protocol
        loader.set_epoch(epoch)
    else:
        loader.sampler.set_epoch(epoch)
        if hasattr(loader, "generator") and hasattr(loader, "seed"):
            loader.generator.manual_seed(loader.seed * 1_000_003 + epoch)
    synchronize(device)
    start, images = time.perf_counter(), 0
    for batch in loader:
        x = batch[0].to(device, non_blocking=True)
        images += x.shape[0]
    synchronize(device)
    return time.perf_counter() - start, images


def jpeg_loader(root, workers: int, batch: int, size: int, num_classes: int, device: torch.device):
    dataset = MiniPlacesLoader(root, num_classes=num_classes, split="train", transforms=sized_transforms(True, size))
    return make_loader(dataset, batch, train=True, seed=0, workers=workers, device=device, drop_last=True)


def device_loader(root, batch: int, size: int, num_classes: int, device: torch.device):
    images, labels = ensure_cache(root, "train", scale_size(size), num_classes, quiet=True)
    return ResidentBatches(place(images, device), torch.from_numpy(labels), batch, train=True,
                           transform=CourseAugment(size), device=device, seed=0)


def run(root, *, device: torch.device, workers=(0, 2, 4), batch: int = 256, size: int = 128, num_classes: int = 100,
        repeats: int = 2) -> dict:
    """Build the cache, time every path ``repeats`` times (interleaved); returns the figures."""
    results: dict = {"device": str(device), "torch_threads": torch.get_num_threads(), "batch": batch, "size": size}
    start = time.perf_counter()
    images, _ = ensure_cache(root, "train", scale_size(size), num_classes, quiet=True)
    build = time.perf_counter() - start
    results.update(train_images=len(images), cache_seconds=build, cache_images_per_s=len(images) / build)
    paths = {f"jpeg_j{j}": lambda j=j: jpeg_loader(root, j, batch, size, num_classes, device) for j in workers}
    paths["device"] = lambda: device_loader(root, batch, size, num_classes, device)
    loaders = {name: make() for name, make in paths.items()}
    warm = next(iter(loaders["device"]))  # first-call costs (kernels, allocator) are not per-epoch costs
    del warm
    best: dict[str, float] = {}
    for epoch in range(repeats):
        for name, loader in loaders.items():
            seconds, n = time_epoch(loader, device, epoch)
            best[name] = max(best.get(name, 0.0), n / seconds)
    results.update({f"{name}_images_per_s": rate for name, rate in best.items()})
    if "jpeg_j2" in best:
        results["device_over_jpeg_j2"] = best["device"] / best["jpeg_j2"]
    return results


def report(results: dict) -> str:
    rows = [f"{name[:-len('_images_per_s')]:>10}  {rate:9.0f} images/s"
            for name, rate in results.items() if name.endswith("_images_per_s") and name != "cache_images_per_s"]
    lines = [f"one epoch of {results['train_images']} training images, batch {results['batch']}, "
             f"{results['size']} px crops on {results['device']} ({results['torch_threads']} torch threads)",
             *rows,
             f"device path / JPEG path with 2 workers: {results.get('device_over_jpeg_j2', float('nan')):.2f}x",
             f"cache build (all cores): {results['cache_seconds']:.2f} s "
             f"= {results['cache_images_per_s']:.0f} images/s"]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="a MiniPlaces folder (default: toy scenes in a temp folder)")
    parser.add_argument("--num-classes", type=positive_int, default=100,
                        help="labels of --data lie in 0..N-1 (default: 100)")
    parser.add_argument("--train-images", type=positive_int, default=2560,
                        help="toy training images to write when --data is not given (default: 2560)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    parser.add_argument("-b", "--batch-size", type=positive_int, default=256,
                        help="batch size (default: 256, the course's)")
    parser.add_argument("--workers", type=nonnegative_int, nargs="+", default=[0, 2, 4],
                        help="JPEG path -j values (0 2 4)")
    parser.add_argument("--repeats", type=positive_int, default=2, help="epochs per path; the best counts (default: 2)")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    return parser


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory(prefix="bench_loader_") as tmp:
        root, classes = args.data, args.num_classes
        if root is None:
            from miniplaces.toy_data import make_toy_miniplaces
            classes = 10
            root = make_toy_miniplaces(Path(tmp) / "toy", classes=classes,
                                       train_per_class=max(1, args.train_images // classes), val_per_class=1, size=128)
            print(f"toy scenes at 128 px in {root} (not MiniPlaces)", flush=True)
        results = run(root, device=device, workers=tuple(args.workers), batch=args.batch_size,
                      num_classes=classes, repeats=args.repeats)
    results["data"] = "toy scenes, 128 px (not MiniPlaces)" if args.data is None else str(args.data)
    print(report(results), flush=True)
    if args.json:
        atomic_write_text(args.json, json.dumps(results, indent=2, default=float) + "\n")
    return results


if __name__ == "__main__":
    main()
