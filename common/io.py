"""Atomic writes: a kill mid-write never leaves a half-written file where a good one was.

Files get the mode the umask gives (like any ``open``), so project partners can read a
run on a shared server; a temp file left behind by a killed save is removed by the next
save of the same file.
"""
from __future__ import annotations

import atexit
import json
import os
import secrets
from pathlib import Path
from typing import Any, Callable


def _temp_name(path: Path) -> Path:
    # The writer's pid is in the name, so a later save can tell a dead writer's leftovers.
    return path.parent / f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temps(path: Path) -> None:
    """Delete temp files of ``path`` whose writer is no longer running (a save killed mid-write)."""
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        pid = tmp.name[len(path.name) + 2:].split("-", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            tmp.unlink(missing_ok=True)


# Temp files of saves in progress.  A name joins before its file exists and leaves after the file
# is gone (replaced or removed), so a Ctrl-C landing between any two lines leaves no temp file:
# what the save's own clean-up could not remove, _remove_pending does at exit.
_PENDING: set[Path] = set()


@atexit.register
def _remove_pending() -> None:
    for tmp in list(_PENDING):
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            continue
        _PENDING.discard(tmp)


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` on a temp file beside ``path``, fsync it, then ``os.replace``.

    If ``write`` raises (or the process dies), whatever was at ``path`` before is untouched;
    the temp file is removed now (if a second Ctrl-C interrupts that, at exit; after a kill,
    by the next save of ``path``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    tmp = _temp_name(path)
    _PENDING.add(tmp)
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # 0o666 & ~umask, unlike mkstemp's 0600
        write(str(tmp))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        _PENDING.discard(tmp)
        raise
    _PENDING.discard(tmp)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)

    return atomic_write(path, write)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    """JSON for the odd types that end up in configs and metrics (paths, tensors, numpy)."""
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    return str(obj)


def read_json(path: str | os.PathLike, default: Any = None) -> Any:
    path = Path(path)
    if not path.exists():
        return default
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)
