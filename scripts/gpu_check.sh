#!/usr/bin/env bash
# One command that checks a GPU machine end to end: GPU tests, a short AMP run of every
# training entry point, throughput figures -> logs/gpu_check/<time>/gpu_check.json + a table.
# Without a CUDA GPU it says so and exits 0.  See scripts/gpu_check.py for the steps.
#   bash scripts/gpu_check.sh [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
    if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
exec "$PY" scripts/gpu_check.py "$@"
