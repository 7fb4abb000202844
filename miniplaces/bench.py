"""Benchmark: unfold convolution (``custom_conv2d``) against ``F.conv2d`` on SimpleNet's shapes.

    python scripts/bench.py conv                       # batch 32, 128x128 input, CPU
    python -m miniplaces.bench --device cuda --reps 20

For every convolution of SimpleNet (shapes recorded by running the model once) it
times forward+backward of one layer for both implementations, interleaved so that
machine load hits both alike, sums the bytes each keeps for backward (via
``torch.autograd.graph.saved_tensors_hooks``) and measures the transient peak: the most
bytes of new tensors alive at once during forward+backward (tracked per allocation by
a dispatch mode, so it works on the CPU too; inputs excluded, gradients included).  It
prints the per-shape ratios custom / F.conv2d and their geometric means.  The first layer's input does not need a
gradient (it is the image), exactly as in training.
"""
from __future__ import annotations

import argparse
import math
import statistics
import weakref

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from common.device import resolve_device
from common.timing import SavedTensors, seconds_per_call

from miniplaces.student_code import CustomConv2d, SimpleNet, custom_conv2d

RESULTS_NAME = "conv_speed"  # miniplaces/results/conv_speed.json


def simplenet_conv_shapes(batch: int, size: int) -> list[dict]:
    """Input shape and hyper-parameters of each conv of SimpleNet for a ``(batch, 3, size, size)`` input."""
    model, shapes = SimpleNet(), []

    def record(module, inputs, output):
        shapes.append({"input": tuple(inputs[0].shape), "out_channels": module.out_channels,
                       "kernel": module.kernel_size[0], "stride": module.stride[0], "padding": module.padding[0]})

    hooks = [m.register_forward_hook(record) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    for h in hooks:
        h.remove()
    for s in shapes:
        s["input"] = (batch,) + s["input"][1:]
    return shapes


def saved_bytes(fn, *args) -> int:
    """Bytes of the distinct tensors autograd saves for backward while running ``fn(*args)``."""
    with SavedTensors() as saved:
        out = fn(*args)
    del out
    return saved.bytes


class PeakMemory(TorchDispatchMode):
    """Bytes of tensor storage created inside the ``with`` block and alive at once, at most.

    Every op's outputs are seen here; a storage counts from its creation until it is
    freed (a weak reference's callback).  Outputs that alias an input (views, in-place
    and ``out=`` ops) allocate nothing and are skipped.
    """

    def __init__(self):
        super().__init__()
        self.live = self.peak = 0
        self.refs: dict[int, weakref.ref] = {}

    def _freed(self, key: int, nbytes: int) -> None:
        self.refs.pop(key, None)
        self.live -= nbytes

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = {t.untyped_storage().data_ptr() for t in tree_flatten((args, kwargs))[0]
                  if isinstance(t, torch.Tensor)}
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                storage = t.untyped_storage()
                key, nbytes = storage.data_ptr(), storage.nbytes()
                if nbytes and key not in self.refs and key not in inputs:
                    self.live += nbytes
                    self.peak = max(self.peak, self.live)
                    self.refs[key] = weakref.ref(storage, lambda _, k=key, n=nbytes: self._freed(k, n))
        return out


def peak_bytes(fn, args, grad: torch.Tensor) -> int:
    """Transient peak of one forward + backward (see :class:`PeakMemory`)."""
    for a in args:
        if a is not None:
            a.grad = None
    with PeakMemory() as tracker:
        fn(*args).backward(grad)
    return tracker.peak


def time_fwd_bwd(fn, args, grad: torch.Tensor, device: torch.device) -> float:
    """Seconds for one forward + backward of ``fn(*args)``."""
    for a in args:
        if a is not None and a.grad is not None:
            a.grad = None
    return seconds_per_call(lambda: fn(*args).backward(grad), device, warmup=0)


def bench_shape(shape: dict, device: torch.device, reps: int, first: bool) -> dict:
    """Median fwd+bwd time and saved bytes of both implementations on one conv shape."""
    x = torch.randn(shape["input"], device=device, requires_grad=not first)
    w = torch.randn(shape["out_channels"], x.shape[1], shape["kernel"], shape["kernel"], device=device,
                    requires_grad=True)
    b = torch.randn(shape["out_channels"], device=device, requires_grad=True)
    stride, padding = shape["stride"], shape["padding"]
    impls = {"custom": lambda x, w, b: custom_conv2d(x, w, b, stride, padding),
             "torch": lambda x, w, b: F.conv2d(x, w, b, stride, padding)}
    grad = torch.randn_like(impls["torch"](x, w, b))
    times: dict[str, list[float]] = {name: [] for name in impls}
    for rep in range(reps + 1):  # rep 0 warms up allocators and kernels
        for name, fn in impls.items():
            seconds = time_fwd_bwd(fn, (x, w, b), grad, device)
            if rep:
                times[name].append(seconds)
    row = {f"{name}_ms": 1000 * statistics.median(t) for name, t in times.items()}
    row.update({f"{name}_saved_MB": saved_bytes(fn, x, w, b) / 2**20 for name, fn in impls.items()})
    row.update({f"{name}_peak_MB": peak_bytes(fn, (x, w, b), grad) / 2**20 for name, fn in impls.items()})
    row["time_ratio"] = row["custom_ms"] / row["torch_ms"]
    row["memory_ratio"] = row["custom_saved_MB"] / row["torch_saved_MB"]
    row["peak_ratio"] = row["custom_peak_MB"] / row["torch_peak_MB"]
    return row


def bench_training_step(batch: int, size: int, device: torch.device, reps: int, num_classes: int = 100) -> dict:
    """Median seconds of one whole SimpleNet training step, custom conv vs nn.Conv2d, interleaved."""
    torch.manual_seed(0)
    models = {"custom": SimpleNet(conv_op=CustomConv2d, num_classes=num_classes),
              "torch": SimpleNet(conv_op=nn.Conv2d, num_classes=num_classes)}
    models["custom"].load_state_dict(models["torch"].state_dict())  # same parameter names and weights
    x = torch.randn(batch, 3, size, size, device=device)
    y = torch.randint(0, num_classes, (batch,), device=device)
    steps = {}
    for name, model in models.items():
        model.to(device).train()
        opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

        def step(model=model, opt=opt):
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            opt.step()

        steps[name] = step
    times: dict[str, list[float]] = {name: [] for name in steps}
    for rep in range(reps + 1):  # rep 0 warms up
        for name, step in steps.items():
            seconds = seconds_per_call(step, device, warmup=0)
            if rep:
                times[name].append(seconds)
    out = {f"{name}_step_ms": 1000 * statistics.median(t) for name, t in times.items()}
    out["step_time_ratio"] = out["custom_step_ms"] / out["torch_step_ms"]
    return out


def whole_model(rows: list[dict], step: dict) -> dict:
    """Whole-model ratios: summed per-layer times and the training step."""
    custom, ref = sum(r["custom_ms"] for r in rows), sum(r["torch_ms"] for r in rows)
    return {"sum_custom_ms": custom, "sum_torch_ms": ref, "sum_time_ratio": custom / ref, **step}


def geometric_mean(values) -> float:
    values = list(values)
    return math.exp(sum(math.log(v) for v in values) / len(values))


def describe(shape: dict) -> str:
    b, c, h, w = shape["input"]
    return f"{c:>3}->{shape['out_channels']:<3} k{shape['kernel']} s{shape['stride']} p{shape['padding']} @{h}x{w}"


def conv_speed(batch: int = 32, size: int = 128, device: str = "cpu", reps: int = 5, quiet: bool = False) -> dict:
    """Per-layer rows, their geometric means and the whole-model ratios (what ``--json`` writes)."""
    device = resolve_device(device)
    shapes = simplenet_conv_shapes(batch, size)
    say = (lambda *a, **k: None) if quiet else print
    say(f"custom unfold conv vs F.conv2d, fwd+bwd, batch {batch}, {size}x{size}, {device}, torch threads "
        f"{torch.get_num_threads()}, median of {reps}")
    say(f"{'layer':<28}{'custom ms':>10}{'torch ms':>10}{'time x':>8}{'saved MB c/t':>16}{'mem x':>7}"
        f"{'peak MB c/t':>16}{'peak x':>8}")
    rows = []
    for i, shape in enumerate(shapes):
        row = {"layer": describe(shape), **bench_shape(shape, device, reps, first=i == 0)}
        rows.append(row)
        say(f"{row['layer']:<28}{row['custom_ms']:>10.1f}{row['torch_ms']:>10.1f}{row['time_ratio']:>8.2f}"
            f"{row['custom_saved_MB']:>8.1f}/{row['torch_saved_MB']:<7.1f}{row['memory_ratio']:>7.2f}"
            f"{row['custom_peak_MB']:>8.1f}/{row['torch_peak_MB']:<7.1f}{row['peak_ratio']:>8.2f}", flush=True)
    summary = {"geomean_time_ratio": geometric_mean(r["time_ratio"] for r in rows),
               "geomean_memory_ratio": geometric_mean(r["memory_ratio"] for r in rows),
               "geomean_peak_ratio": geometric_mean(r["peak_ratio"] for r in rows),
               **whole_model(rows, bench_training_step(batch, size, device, reps)),
               "device": str(device), "torch_threads": torch.get_num_threads(), "batch_size": batch,
               "image_size": size, "reps": reps, "rows": rows}
    say(f"per layer, geometric mean: time ratio {summary['geomean_time_ratio']:.2f} (target <= 1.5), "
        f"saved-memory ratio {summary['geomean_memory_ratio']:.2f} (target <= 2), "
        f"transient-peak ratio {summary['geomean_peak_ratio']:.2f}")
    say(f"whole model: summed layer times {summary['sum_custom_ms']:.0f} / {summary['sum_torch_ms']:.0f} ms = "
        f"{summary['sum_time_ratio']:.2f}x; SimpleNet training step {summary['custom_step_ms']:.0f} / "
        f"{summary['torch_step_ms']:.0f} ms = {summary['step_time_ratio']:.2f}x")
    return summary


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=32, help="batch size of every layer's input")
    parser.add_argument("--image-size", type=int, default=128, help="SimpleNet input resolution")
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions per implementation (median)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps or auto")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--results", action="store_true",
                        help=f"also write miniplaces/results/{RESULTS_NAME}.json (the committed numbers)")
    args = parser.parse_args(argv)
    summary = conv_speed(args.batch_size, args.image_size, args.device, args.reps)
    if args.json:
        from common.io import atomic_write_json

        atomic_write_json(args.json, summary)
    if args.results:
        write_results(summary, " ".join(["python -m miniplaces.bench", *(argv if argv is not None else [])]))
    return summary


def write_results(summary: dict, command: str):
    """``miniplaces/results/conv_speed.json``, with the command and the machine load it was measured under."""
    import os
    from pathlib import Path

    from common.results import ResultsDir

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    results = ResultsDir(Path(__file__).resolve().parent / "results")
    return results.write_json(RESULTS_NAME, {**summary, "command": command, "load_average": load,
                                             "cpus": os.cpu_count()})


if __name__ == "__main__":
    main()
