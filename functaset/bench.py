"""Benchmarks: batched vs one-image-at-a-time functa fitting, and the batched attack sweep.

    python scripts/bench.py functa                 # course-size SIREN (256 x 10, 512-d)
    python -m functaset.bench --size demo --images 128

Reports images/s of both fitting modes (same SIREN, same steps) and their ratio, the
achieved matmul GFLOP/s of the batched fit against a large-matmul peak measured in the
same run, and the 7-bound attack sweep in one batched pass vs 7 single-bound passes.
"""
from __future__ import annotations

import argparse
import json

import torch

from common.device import resolve_device
from common.timing import seconds_per_call

from functaset.SIREN import ModulatedSIREN
from functaset.fitting import fit_modulations, siren_flops_per_image
from functaset.models import FunctaMLP
from functaset.sweep import DEFAULT_EPSILONS, sweep

SIZES = {"course": dict(hidden=256, depth=10, modul_features=512), "demo": dict(hidden=64, depth=2, modul_features=128)}


def timed(fn, device, repeats: int = 1) -> float:
    """Seconds per call (one warm-up call first)."""
    return seconds_per_call(fn, device, steps=repeats)


def matmul_peak(device, n: int) -> float:
    """GFLOP/s of an fp32 n x n matmul: the reference the SIREN's matmuls are compared with."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    seconds = timed(lambda: a @ b, device, repeats=5)
    return 2 * n ** 3 / seconds / 1e9


def bench_fitting(args, device) -> dict:
    torch.manual_seed(0)
    inr = ModulatedSIREN(**SIZES[args.size]).to(device)
    images = torch.rand(args.images, 28, 28, device=device)
    per_image_n = min(args.images, args.per_image)
    batched = timed(lambda: fit_modulations(inr, images, args.steps, 0.01), device)
    looped = timed(lambda: [fit_modulations(inr, images[i:i + 1], args.steps, 0.01) for i in range(per_image_n)],
                   device)
    flops = siren_flops_per_image(inr.hidden, inr.depth, 28 * 28, inr.modul_features) * args.steps
    batched_ips, looped_ips = args.images / batched, per_image_n / looped
    return {"siren": args.size, "steps": args.steps, "batch": args.images, "batched_images_per_s": batched_ips,
            "per_image_images_per_s": looped_ips, "speedup": batched_ips / looped_ips,
            "batched_gflops": flops * batched_ips / 1e9, "per_image_gflops": flops * looped_ips / 1e9}


def bench_sweep(args, device) -> dict:
    torch.manual_seed(0)
    model = FunctaMLP(in_dim=512, hidden=1024, depth=3).to(device).eval()
    x = torch.randn(args.sweep_samples, 512, device=device) * 1e-3
    y = torch.randint(0, 10, (args.sweep_samples,), device=device)
    eps = [float(e) for e in DEFAULT_EPSILONS]
    alphas = [e / 4 for e in eps]
    rows = args.sweep_samples * len(eps)
    batched = timed(lambda: sweep(model, x, y, eps, alphas, rows=rows, device=device), device)
    separate = timed(lambda: [sweep(model, x, y, [e], [a], rows=rows, device=device) for e, a in zip(eps, alphas)],
                     device)
    return {"sweep_samples": args.sweep_samples, "bounds": len(eps), "batched_sweep_s": batched,
            "separate_passes_s": separate, "sweep_speedup": separate / batched}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    parser.add_argument("--size", choices=sorted(SIZES), default="course", help="SIREN size (default: course)")
    parser.add_argument("--images", type=int, default=None, help="batch of images (default: 32 CPU, 1024 GPU)")
    parser.add_argument("--per-image", type=int, default=None,
                        help="images timed in the one-at-a-time loop (default: 8 CPU, 64 GPU)")
    parser.add_argument("--steps", type=int, default=3, help="SGD steps per image (default: 3)")
    parser.add_argument("--sweep-samples", type=int, default=None, help="test vectors in the sweep (default: "
                                                                         "1000 CPU, 10000 GPU)")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    gpu = device.type == "cuda"
    args.images = args.images or (1024 if gpu else 32)
    args.per_image = args.per_image or (64 if gpu else 8)
    args.sweep_samples = args.sweep_samples or (10000 if gpu else 1000)
    results = {"device": str(device), "threads": torch.get_num_threads(),
               "matmul_peak_gflops": matmul_peak(device, 8192 if gpu else 2048)}
    results.update(bench_fitting(args, device))
    results["batched_fraction_of_peak"] = results["batched_gflops"] / results["matmul_peak_gflops"]
    results.update(bench_sweep(args, device))
    for key, value in results.items():
        print(f"{key:>28}: {value:.4g}" if isinstance(value, float) else f"{key:>28}: {value}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)
    return results


if __name__ == "__main__":
    main()
