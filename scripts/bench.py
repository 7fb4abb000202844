"""Benchmarks (ratios measured in one run; never timed tests).

    python scripts/bench.py conv          # custom unfold conv vs F.conv2d (miniplaces)
    python scripts/bench.py functa        # batched vs per-image functa fitting, attack sweep
    python scripts/bench.py contrastive   # contrastive pre-training images/s (autoencoders)
    python scripts/bench.py loader        # MiniPlaces batches/s: JPEG path -j 0/2/4 vs --data-on-device
    python scripts/bench.py step          # MiniPlaces training step end to end (both data paths) vs model only
    python scripts/bench.py all

Each benchmark lives beside the code it measures (``<package>/bench.py``, function
``main(argv)``); this script only dispatches.
"""
from __future__ import annotations

import argparse
import importlib
import sys

BENCHMARKS = {
    "conv": "miniplaces.bench",
    "functa": "functaset.bench",
    "contrastive": "autoencoders.bench",
    "loader": "miniplaces.bench_loader",
    "step": "miniplaces.bench_step",
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", choices=[*BENCHMARKS, "all"], help="which benchmark to run")
    parser.add_argument("rest", nargs=argparse.REMAINDER, help="arguments passed to the benchmark (see its --help)")
    args = parser.parse_args(argv)
    names = list(BENCHMARKS) if args.name == "all" else [args.name]
    for name in names:
        try:
            module = importlib.import_module(BENCHMARKS[name])
        except ModuleNotFoundError as err:
            print(f"error: benchmark {name!r} is not available ({err})", file=sys.stderr)
            return 2
        print(f"=== bench {name} ===", flush=True)
        module.main(args.rest if args.name != "all" else [])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
