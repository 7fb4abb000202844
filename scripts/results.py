"""The committed results: run every assignment's results module, then rewrite the docs' tables.

    python scripts/results.py                    # every <assignment>/results.py that exists (make results)
    python scripts/results.py --only functaset   # one (or several) of them
    python scripts/results.py --docs-only        # re-render the docs' generated blocks, run nothing
    python scripts/results.py --quick            # smoke run into logs/results_quick/ (docs untouched)

Each module (``python -m <assignment>.results``) runs its experiments with fixed seeds,
writes ``<assignment>/results/`` (metrics JSON + small captioned PNGs) and rewrites the
``<!-- results:NAME -->`` blocks of its ANSWERS.md and README.md from those files
(common/results.py).  Each runs in its own process, so one failure does not hide the others.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # `python scripts/results.py` from anywhere

from common.results import ASSIGNMENTS, existing_modules  # noqa: E402  (no torch: --help stays fast)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--only", nargs="+", choices=ASSIGNMENTS, metavar="NAME",
                        help=f"run only these ({', '.join(ASSIGNMENTS)}; default: every one with a results.py)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="smoke run: tiny sizes, docs and results/ untouched")
    mode.add_argument("--docs-only", action="store_true", help="re-render the docs from the committed results")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    available = existing_modules(REPO)
    names = args.only or available
    missing = [n for n in names if n not in available]
    if missing:
        print(f"error: no results module for {', '.join(missing)} yet (no {missing[0]}/results.py); "
              f"available: {', '.join(available) or 'none'}", file=sys.stderr)
        return 2
    flags = ["--quick"] * args.quick + ["--docs-only"] * args.docs_only + ["--device", args.device]
    outcome = {}
    for name in names:
        print(f"=== results {name} ===", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, "-m", f"{name}.results", *flags], cwd=REPO)
        outcome[name] = (rc, time.perf_counter() - t0)
        print(f"=== results {name}: {'ok' if rc == 0 else f'FAILED (exit {rc})'}, {outcome[name][1]:.0f} s ===",
              flush=True)
    print("\n| assignment | status | seconds |\n|---|---|---|")
    for name, (rc, seconds) in outcome.items():
        print(f"| {name} | {'ok' if rc == 0 else f'failed ({rc})'} | {seconds:.0f} |")
    failed = [n for n, (rc, _) in outcome.items() if rc]
    if failed:
        print(f"error: results failed for {', '.join(failed)} (see the output above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
