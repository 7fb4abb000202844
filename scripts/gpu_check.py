"""Check a GPU machine end to end in one command (at most 10 minutes on one GPU).

    bash scripts/gpu_check.sh                      # or: python scripts/gpu_check.py [--out DIR]

Steps, each a subprocess with its own time limit (a step that would overrun the total
budget is skipped and says so):
  1. the GPU-marked tests (``pytest -m gpu``);
  2. the demo's quick mode on CUDA: a short AMP run of every training entry point on
     embedded/toy data (engine digits, MiniPlaces, functaset, autoencoders, AlexNet/LSTM);
  3. ``scripts/bench.py step``: a SimpleNet training step (batch 256, 128 px, AMP) end to end on
     the JPEG path and with ``--data-on-device`` against the model-only step, their ratios and
     the host syncs per step (goal: 0);
  4. SimpleNet on toy scenes at the real size (128 px): one warm epoch with the JPEG path
     (-j 4) and with ``--data-on-device``, images/s and epoch time;
  5. ``scripts/bench.py loader``, ``conv`` (custom unfold conv vs cuDNN) and ``functa``
     (batched vs per-image fitting, the 7-bound sweep vs one bound) on the GPU.
Everything goes into OUT/gpu_check.json (default OUT: logs/gpu_check/<time>/) and a
table is printed.  Without a CUDA GPU it says so and exits 0.  Exit status 1 when a
step failed.  Numbers are on toy/embedded data, not on the real datasets.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUDGET_S = 590  # the whole check stays under 10 minutes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=None, help="output folder (default: logs/gpu_check/<YYYY-mm-dd_HH-MM-SS>/)")
    parser.add_argument("--budget", type=float, default=BUDGET_S, help=f"total seconds (default: {BUDGET_S})")
    return parser


class Steps:
    """Runs steps as subprocesses within one time budget and records each outcome."""

    def __init__(self, out: Path, budget: float):
        self.out, self.deadline, self.records = out, time.monotonic() + budget, []

    def run(self, name: str, argv: list[str], limit: float) -> dict:
        left = self.deadline - time.monotonic()
        record = {"step": name, "command": " ".join(argv)}
        if left < min(limit, 30):
            record.update(status="skipped (time budget)", seconds=0.0)
        else:
            start = time.monotonic()
            try:
                done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=min(limit, left),
                                      env={**os.environ, "PYTHONUNBUFFERED": "1"})
                record.update(status="ok" if done.returncode == 0 else f"failed (exit {done.returncode})",
                              tail=(done.stdout + done.stderr)[-1500:])
            except subprocess.TimeoutExpired as err:
                record.update(status=f"timed out after {min(limit, left):.0f} s",
                              tail=str(err.stdout or "")[-1500:] if err.stdout else "")
            record["seconds"] = round(time.monotonic() - start, 1)
        print(f"[gpu_check] {name}: {record['status']} ({record['seconds']} s)", flush=True)
        self.records.append(record)
        return record


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def simplenet_figures(run: Path, train_images: int, batch: int) -> dict:
    """Images/s (median iteration) and the last epoch's seconds of one main.py run."""
    import torch

    metrics = read_json(run / "metrics.json")
    figures = {}
    if metrics.get("seconds_per_iter"):
        figures["images_per_s"] = batch / metrics["seconds_per_iter"]
    try:
        ckpt = torch.load(run / "models" / "checkpoint.pth.tar", map_location="cpu", weights_only=True)
        seconds = ckpt["history"][-1]["epoch_seconds"]
        figures.update(epoch_seconds=seconds, epoch_images_per_s=train_images / seconds,
                       miniplaces_epoch_seconds_estimate=100_000 / (train_images / seconds))
    except (OSError, KeyError, IndexError, RuntimeError):
        pass
    return figures


def simplenet_runs(steps: Steps, py: str) -> dict:
    toy, classes, per_class, batch = steps.out / "toy128", 10, 500, 256
    steps.run("toy data 128 px", [py, "-m", "miniplaces.toy_data", str(toy), "--classes", str(classes),
                                  "--train-per-class", str(per_class), "--val-per-class", "20", "--size", "128"], 120)
    figures = {}
    for name, extra in (("jpeg_j4", ["-j", "4"]), ("device", ["--data-on-device"])):
        run = steps.out / f"simplenet_{name}"
        steps.run(f"SimpleNet 2 AMP epochs, {name}",
                  [py, "miniplaces/main.py", str(toy), "--num-classes", str(classes), "--epochs", "2", "--warmup", "0",
                   "-b", str(batch), "--device", "cuda", "--amp", "--quiet", "--logdir", str(run), *extra], 150)
        figures[name] = simplenet_figures(run, classes * per_class, batch)
    return figures


def step_bench(steps: Steps, py: str) -> dict:
    """The training step end to end on both data paths vs model only (miniplaces/bench_step.py)."""
    path = steps.out / "bench_step.json"
    steps.run("bench step (end to end vs model only)", [py, "scripts/bench.py", "step", "--device", "cuda", "--steps",
                                                        "10", "--json", str(path)], 150)
    return read_json(path)


def table(report: dict) -> str:
    lines = [f"GPU check on {report['gpu']} (torch {report['torch']}); toy/embedded data, not the real datasets",
             f"{'step':<44} {'status':<26} {'s':>7}"]
    lines += [f"{r['step']:<44} {r['status']:<26} {r['seconds']:>7.1f}" for r in report["steps"]]
    for path, value in _flat(report["figures"]):
        lines.append(f"{path:<71} {value:>10.4g}" if isinstance(value, (int, float)) else f"{path:<71} {value}")
    return "\n".join(lines)


def _flat(obj, prefix=""):
    for key, value in obj.items():
        if isinstance(value, dict):
            yield from _flat(value, f"{prefix}{key}.")
        elif isinstance(value, (int, float, str)) and not isinstance(value, bool):
            yield f"{prefix}{key}", value


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("gpu_check: no CUDA GPU visible (torch.cuda.is_available() is False): skipped, nothing was run")
        return 0
    from common.io import atomic_write_text

    out = Path(args.out or REPO / "logs" / "gpu_check" / time.strftime("%Y-%m-%d_%H-%M-%S")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    steps, py = Steps(out, args.budget), sys.executable
    steps.run("pytest -m gpu", [py, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider"], 200)
    steps.run("demo --quick on cuda (AMP, every entry point)",
              [py, "scripts/demo.py", "--quick", "--device", "cuda", "--out", str(out / "demo")], 200)
    figures = {"bench_step": step_bench(steps, py)}
    figures["simplenet"] = simplenet_runs(steps, py)
    for name, extra in (("loader", []), ("conv", ["--batch-size", "128", "--reps", "10"]), ("functa", [])):
        path = out / f"bench_{name}.json"
        steps.run(f"bench {name}", [py, "scripts/bench.py", name, "--device", "cuda", "--json", str(path), *extra], 90)
        figures[f"bench_{name}"] = read_json(path)
    report = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "cuda": torch.version.cuda,
              "steps": steps.records, "figures": figures}
    atomic_write_text(out / "gpu_check.json", json.dumps(report, indent=2, default=str) + "\n")
    print(table(report))
    print(f"[gpu_check] results: {out / 'gpu_check.json'}")
    return 0 if all(r["status"] in ("ok",) for r in steps.records) else 1


if __name__ == "__main__":
    raise SystemExit(main())
