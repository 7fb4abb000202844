"""The main job: run every assignment on embedded offline data and write a report.

    python scripts/demo.py            # full demo (about 20 minutes on 2 CPU cores)
    python scripts/demo.py --quick    # smoke run (about 4 minutes)

Each stage writes run directories (metrics.json + figures/) under
``logs/demo/<timestamp>/``; ``REPORT.md`` there (and a copy at ``logs/demo/REPORT.md``)
tabulates every metrics.json and embeds every figure with its caption.  All numbers
come from embedded stand-in data (sklearn digits, toy scenes, library sample photos,
CPython's text) and are labelled so; they are not results on the real datasets.
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import sys
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STAGES = ("engine", "miniplaces", "functaset", "autoencoders", "alexnet_rnn")


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


def write_report(results: dict, out_root: Path, quick: bool, seconds: dict) -> str:
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
        lines += ["| stage | status | seconds |", "|---|---|---|"]
        for name, runs in results.items():
            status = "ok" if isinstance(runs, list) else f"FAILED: {runs}"
            lines.append(f"| {name} | {status} | {seconds.get(name, 0):.0f} |")
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny data and few epochs (~4 min)")
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES), help="stages to run")
    parser.add_argument("--out", default=str(REPO / "logs" / "demo"),
                        help="folder for the demo; each demo run gets its own timestamped subfolder")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    args = parser.parse_args(argv)
    out_root = Path(args.out) / dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    out_root.mkdir(parents=True, exist_ok=False)
    results, seconds = {}, {}
    for name in args.stages:
        if not stage_available(name):
            print(f"--- stage {name}: not implemented yet, skipped", flush=True)
            continue
        print(f"=== stage {name} ===", flush=True)
        t0 = time.perf_counter()
        try:
            results[name] = run_stage(name, out_root, args.quick, args.device)
        except (Exception, SystemExit) as err:  # one broken stage must not hide the others' results
            traceback.print_exc()
            results[name] = f"{type(err).__name__}: {err}"
        seconds[name] = time.perf_counter() - t0
        print(f"=== stage {name}: {seconds[name]:.0f} s ===", flush=True)
    report = write_report(results, out_root, args.quick, seconds)
    failed = [n for n, r in results.items() if not isinstance(r, list)]
    print(f"report: {report} (copy: {out_root.parent / 'REPORT.md'})")
    if failed:
        print(f"error: stage(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
