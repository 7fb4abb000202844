"""The main job: run every assignment on embedded offline data and write a report.

    python scripts/demo.py            # full demo (2-6 minutes on 2 CPU cores, depending on their load)
    python scripts/demo.py --quick    # smoke run (under a minute on idle cores)

Each stage writes run directories (metrics.json + figures/) under
``logs/demo/<timestamp>/``; ``REPORT.md`` there (and a copy at ``logs/demo/REPORT.md``)
tabulates every metrics.json and embeds every figure with its caption.  All numbers
come from embedded stand-in data (sklearn digits, toy scenes, library sample photos,
CPython's text) and are labelled so; they are not results on the real datasets.
The demo is a showcase sized for minutes; the committed, multi-seed results with their
searches are ``make results`` (scripts/results.py).

Stages run in their own single-threaded processes, ``--jobs`` (default: one per core, at most 2)
at a time, longest first: on a 2-core machine that keeps both cores busy, and one thread per
process avoids OpenMP threads waiting for each other when other jobs share the cores (measured
here: 2-3x slower than one thread under load).  ``--jobs 1`` runs the stages one after another
in this process.  Each stage's output goes to ``<run>/<stage>.log``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import subprocess
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # `python scripts/demo.py` from anywhere

from common.errors import UserError, cli_main  # noqa: E402  (no torch: bad flags fail fast)

STAGES = ("engine", "miniplaces", "functaset", "autoencoders", "alexnet_rnn")
LONGEST_FIRST = ("miniplaces", "autoencoders", "alexnet_rnn", "functaset", "engine")  # budgets 180/170/100/80/10 s
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def run_engine_stage(out_root: Path, quick: bool, device: str) -> list[Path]:
    """The engine on its own: SmallCNN on sklearn digits with checkpoints, curves, metrics."""
    from common.train_digits import main as train_digits

    run = out_root / "engine_digits"
    train_digits(["--epochs", "2" if quick else "8", "--logdir", str(run), "--device", device, "--quiet"])
    return [run]


def run_stage(name: str, out_root: Path, quick: bool, device: str) -> list[Path]:
    if name == "engine":
        return run_engine_stage(out_root, quick, device)
    module = importlib.import_module(f"{name}.demo")
    return [Path(p) for p in module.run_demo(out_root, quick=quick, device=device)]


def stage_available(name: str) -> bool:
    return name == "engine" or importlib.util.find_spec(f"{name}.demo") is not None


def metrics_table(metrics: dict) -> list[str]:
    lines = ["| metric | value |", "|---|---|"]
    for key in sorted(metrics):
        value = metrics[key]
        if isinstance(value, float):
            value = f"{value:.4g}"
        elif isinstance(value, (dict, list)):
            value = json.dumps(value)
        lines.append(f"| `{key}` | {value} |")
    return lines


def run_section(run: Path, base: Path) -> list[str]:
    lines = [f"### `{run.name}`", ""]
    metrics_path = run / "metrics.json"
    if metrics_path.exists():
        lines += metrics_table(json.loads(metrics_path.read_text())) + [""]
    captions_path = run / "figures" / "captions.json"
    captions = json.loads(captions_path.read_text()) if captions_path.exists() else {}
    for fig in sorted((run / "figures").glob("*.png")):
        rel = fig.relative_to(base).as_posix()
        caption = captions.get(fig.name, fig.stem.replace("_", " "))
        lines += [f"![{fig.stem}]({rel})", "", f"*{caption}*", ""]
    return lines


def write_report(results: dict, out_root: Path, quick: bool, seconds: dict, load: tuple, wall: float,
                 jobs: int) -> str:
    def render(base: Path) -> str:
        lines = ["# Demo report", "",
                 f"Generated {dt.datetime.now():%Y-%m-%d %H:%M:%S} by `python scripts/demo.py"
                 f"{' --quick' if quick else ''}`.", "",
                 "**All numbers below come from embedded offline stand-in data** (sklearn digits, procedurally "
                 "generated toy scenes, library sample photos, CPython's help text), as each table's `data` row "
                 "says. They show the code works and learns; they are not results on MiniPlaces, Fashion-MNIST "
                 "functa, MNIST/CIFAR-10, ImageNet or PTB.", ""]
        if quick:  # the smoke run trains for seconds: its figures (e.g. blurry functa decodes) are not results
            lines += ["**Quick mode: a smoke run** on tiny data with a few epochs. Its models are barely trained, so "
                      "its numbers and figures only show that every stage runs; the READMEs quote the full "
                      "`make demo`.", ""]
        how = (f"{jobs} stages at a time, each in its own single-threaded process" if jobs > 1
               else "one stage after another in one process")
        lines += [f"Machine: {os.cpu_count()} CPU core(s); load average {load[0]} at the start, {load[1]} at the "
                  "end (other jobs share the cores, so the seconds below are loaded-machine times). "
                  f"Stages: {how}.", "", "| stage | status | seconds |", "|---|---|---|"]
        for name, runs in results.items():
            status = "ok" if isinstance(runs, list) else f"FAILED: {runs}"
            lines.append(f"| {name} | {status} | {seconds.get(name, 0):.0f} |")
        lines.append(f"| **wall clock** | | **{wall:.0f}** |")
        lines.append("")
        for name, runs in results.items():
            lines += [f"## {name}", ""]
            if isinstance(runs, list):
                for run in runs:
                    lines += run_section(run, base)
            else:
                lines += [f"Stage failed: `{runs}`", ""]
        return "\n".join(lines) + "\n"

    from common.io import atomic_write_text

    atomic_write_text(out_root / "REPORT.md", render(out_root))
    atomic_write_text(out_root.parent / "REPORT.md", render(out_root.parent))
    return str(out_root / "REPORT.md")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny data and few epochs (~4 min)")
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES), help="stages to run")
    parser.add_argument("--out", default=str(REPO / "logs" / "demo"),
                        help="folder for the demo; each demo run gets its own timestamped subfolder")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="stages run at once, each in its own single-threaded process (1: one after another "
                             "in this process, with torch's default threads)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # internal: run one stage, write JSON
    return parser


def make_out_root(out: str) -> Path:
    """``OUT/<timestamp>/``, or a UserError when OUT cannot hold folders (a file, no permission)."""
    base = Path(out)
    if base.exists() and not base.is_dir():
        raise UserError(f"--out {out} is a file, not a folder; pass a folder (it is created if missing)")
    root = base / dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    try:
        root.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        raise UserError(f"{root} already exists (another demo started this second); run again") from None
    except OSError as err:
        raise UserError(f"cannot create the demo folder under --out {out}: {err.strerror}") from None
    return root


def load_average() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except (OSError, AttributeError):
        return "unknown"


def worker(name: str, out_root: Path, quick: bool, device: str) -> int:
    """``--worker NAME``: run one stage in this single-threaded process; its runs or error go to a JSON file."""
    import torch

    torch.set_num_threads(1)
    try:
        outcome = {"runs": [str(p) for p in run_stage(name, out_root, quick, device)]}
    except (Exception, SystemExit) as err:  # reported by the parent, which keeps the other stages going
        traceback.print_exc()
        outcome = {"error": f"{type(err).__name__}: {err}"}
    (out_root / f".{name}.json").write_text(json.dumps(outcome))
    return 0


def run_one(name: str, out_root: Path, quick: bool, device: str, jobs: int):
    """One stage, in a subprocess when stages run in parallel, else here: (runs or error text, seconds)."""
    t0 = time.perf_counter()
    if jobs == 1:
        try:
            result = run_stage(name, out_root, quick, device)
        except (Exception, SystemExit) as err:  # one broken stage must not hide the others' results
            traceback.print_exc()
            result = f"{type(err).__name__}: {err}"
        return result, time.perf_counter() - t0
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--out", str(out_root),
           "--device", device, *(["--quick"] if quick else [])]
    env = {**ONE_THREAD, **os.environ}  # a thread count the user exported wins
    with open(out_root / f"{name}.log", "w") as log:
        rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    outcome_file = out_root / f".{name}.json"
    outcome = json.loads(outcome_file.read_text()) if outcome_file.is_file() else {"error": f"exit status {rc}"}
    outcome_file.unlink(missing_ok=True)
    result = [Path(p) for p in outcome["runs"]] if "runs" in outcome else outcome["error"]
    return result, time.perf_counter() - t0


@cli_main
def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.worker:
        return worker(args.worker, Path(args.out), args.quick, args.device)
    if args.jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {args.jobs}")
    from common.device import resolve_device

    resolve_device(args.device)  # e.g. --device cuda without a GPU: one error line now, not one per stage
    out_root = make_out_root(args.out)
    for name in [n for n in args.stages if not stage_available(n)]:
        print(f"--- stage {name}: not implemented yet, skipped", flush=True)
    names = [n for n in LONGEST_FIRST if n in args.stages and stage_available(n)]
    load, t0 = [load_average()], time.perf_counter()
    where = f"; each stage's output: {out_root}/<stage>.log" if args.jobs > 1 else ""
    print(f"=== stages {', '.join(names)}, {args.jobs} at a time{where} ===", flush=True)

    def one(name: str):
        result, seconds = run_one(name, out_root, args.quick, args.device, args.jobs)
        status = "ok" if isinstance(result, list) else f"FAILED ({result})"
        print(f"=== stage {name}: {status}, {seconds:.0f} s ===", flush=True)
        return name, result, seconds

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        done = sorted(pool.map(one, names), key=lambda item: STAGES.index(item[0]))
    results, seconds = {n: r for n, r, _ in done}, {n: s for n, _, s in done}
    wall = time.perf_counter() - t0
    load.append(load_average())
    report = write_report(results, out_root, args.quick, seconds, tuple(load), wall, args.jobs)
    failed = [n for n, r in results.items() if not isinstance(r, list)]
    print(f"report: {report} (copy: {out_root.parent / 'REPORT.md'}); wall clock {wall:.0f} s")
    if failed:
        print(f"error: stage(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
