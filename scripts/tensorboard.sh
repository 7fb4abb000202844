#!/usr/bin/env bash
# Serve TensorBoard for a log directory (default: logs/), on localhost only.
#
#   bash scripts/tensorboard.sh [--bind-all] [LOGDIR] [PORT]
#
# On a remote GPU server, forward the port from your laptop first:
#   ssh -L 6006:localhost:6006 user@server
# then open http://localhost:6006.  --bind-all serves on every network interface instead,
# so anyone who can reach the server can read every run's logs and images: use it only
# on a trusted network.
set -euo pipefail
host=(--host localhost)
if [ "${1:-}" = "--bind-all" ]; then host=(--bind_all); shift; fi
repo="$(cd "$(dirname "$0")/.." && pwd)"
logdir="${1:-$repo/logs}"
port="${2:-6006}"
[ -d "$logdir" ] || { echo "error: log directory not found: $logdir (train something first, or pass the run directory)" >&2; exit 2; }
tb="${TENSORBOARD_BIN:-tensorboard}"   # TENSORBOARD_BIN: another binary (the tests use a stub)
[ -z "${TENSORBOARD_BIN:-}" ] && [ -x "$repo/.venv/bin/tensorboard" ] && tb="$repo/.venv/bin/tensorboard"
command -v "$tb" >/dev/null || { echo "error: tensorboard is not installed (make install)" >&2; exit 2; }
echo "TensorBoard on http://localhost:$port for $logdir (${host[*]}; Ctrl-C to stop)"
exec "$tb" --logdir "$logdir" --port "$port" "${host[@]}"
