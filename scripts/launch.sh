#!/usr/bin/env bash
# Launch a long job in a detached, named tmux session, its output teed to a log file.
#
#   bash scripts/launch.sh NAME -- CMD [ARGS...]
#   bash scripts/launch.sh simplenet -- python miniplaces/main.py data/miniplaces --epochs 60
#
# The log goes to logs/launch/NAME.log (override with LAUNCH_LOG_DIR). The job's exit
# status is appended to the log. Re-using a NAME that is still running is refused.
# `tmux kill-session -t NAME` or Ctrl-C in the session stops the job gracefully: the
# engine saves a checkpoint and the --resume command lands in the log (tee survives
# the closed pane because it ignores HUP/INT and keeps writing the file).
set -euo pipefail

usage() { echo "usage: bash scripts/launch.sh NAME -- CMD [ARGS...]" >&2; exit 2; }
[ $# -ge 3 ] || usage
name="$1"; shift
[ "$1" = "--" ] || usage
shift
command -v tmux >/dev/null || { echo "error: tmux is not installed (apt-get install tmux, or run the command directly)" >&2; exit 2; }
[[ "$name" =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "error: NAME may use letters, digits, '.', '_' and '-' only" >&2; exit 2; }
if tmux has-session -t "=$name" 2>/dev/null; then
    echo "error: a tmux session named '$name' is already running (attach: tmux attach -t $name)" >&2; exit 2
fi

repo="$(cd "$(dirname "$0")/.." && pwd)"
log_dir="${LAUNCH_LOG_DIR:-$repo/logs/launch}"
mkdir -p "$log_dir"
log="$log_dir/$name.log"
[ -e "$log" ] && mv "$log" "$log.$(date +%Y%m%d-%H%M%S).bak"   # never overwrite an old log

# Prefer the project's virtual environment for `python` inside the job.
path_prefix=""
[ -x "$repo/.venv/bin/python" ] && path_prefix="$repo/.venv/bin:"
quoted="$(printf '%q ' "$@")"
job="cd $(printf '%q' "$PWD") && export PATH=$(printf '%q' "$path_prefix")\$PATH PYTHONUNBUFFERED=1 && \
{ $quoted; } 2>&1 | (trap '' HUP INT; exec tee --output-error=warn -a $(printf '%q' "$log")); \
status=\${PIPESTATUS[0]}; \
echo \"[launch] exit status \$status\" | tee -a $(printf '%q' "$log"); exit \$status"

tmux new-session -d -s "$name" "bash -c $(printf '%q' "$job")"
echo "started tmux session '$name'"
echo "  attach:  tmux attach -t $name      (detach again: Ctrl-b d)"
echo "  follow:  tail -f $log"
echo "  stop:    tmux send-keys -t $name C-c   (the engine saves a checkpoint and prints the --resume command)"
