#!/usr/bin/env bash
# Download MiniPlaces (images via gdown + train.txt/val.txt from CSAILVision/miniplaces)
# into data/miniplaces (or the folder given). Needs internet; offline, use toy data:
#   python -m miniplaces.toy_data data/miniplaces_toy
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
root="${1:-$repo/data/miniplaces}"
py="python3"
[ -x "$repo/.venv/bin/python" ] && py="$repo/.venv/bin/python"
exec "$py" -m miniplaces.download --root "$root"
