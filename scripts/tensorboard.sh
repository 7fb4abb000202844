#!/usr/bin/env bash
# Serve TensorBoard for a log directory (default: logs/).
#
#   bash scripts/tensorboard.sh [LOGDIR] [PORT]
#
# On a remote GPU server, forward the port from your laptop first:
#   ssh -L 6006:localhost:6006 user@server
# then open http://localhost:6006
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
logdir="${1:-$repo/logs}"
port="${2:-6006}"
[ -d "$logdir" ] || { echo "error: log directory not found: $logdir (train something first, or pass the run directory)" >&2; exit 2; }
tb="tensorboard"
[ -x "$repo/.venv/bin/tensorboard" ] && tb="$repo/.venv/bin/tensorboard"
command -v "$tb" >/dev/null || { echo "error: tensorboard is not installed (make install)" >&2; exit 2; }
echo "TensorBoard on http://localhost:$port for $logdir (Ctrl-C to stop)"
exec "$tb" --logdir "$logdir" --port "$port" --bind_all
