"""User-facing errors: one clear line, a non-zero exit, no traceback.

Library code raises :class:`UserError` for anything the user can fix (a bad path,
a checkpoint of another architecture, a diverged run).  Entry scripts wrap their
``main`` with :func:`cli_main`, which prints ``error: <message>`` and exits with
status 2 instead of dumping a traceback.  A stop signal that ends a run at once
(:class:`Interrupted`, or Ctrl-C's plain KeyboardInterrupt) is one ``stopped by SIG...``
line and exit status 128 + the signal's number.
"""
from __future__ import annotations

import functools
import gc
import signal
import sys
from typing import Callable, TypeVar

F = TypeVar("F", bound=Callable[..., object])


class UserError(RuntimeError):
    """An error whose message tells the user what is wrong and how to fix it."""


class Interrupted(KeyboardInterrupt):
    """A stop signal that ends the run at once (a KeyboardInterrupt, so code that cleans up after
    Ctrl-C does so for SIGTERM/SIGHUP too); ``detail`` says what was kept."""

    def __init__(self, signum: int = signal.SIGINT, detail: str = ""):
        super().__init__(signum, detail)
        self.signum, self.detail = int(signum), detail

    def __str__(self) -> str:
        name = signal.Signals(self.signum).name
        return f"stopped by {name}" + (f": {self.detail}" if self.detail else "")


def cli_main(func: F) -> F:
    """Decorator for entry-point ``main`` functions: UserError -> one line + exit 2; a stop
    signal (Interrupted, KeyboardInterrupt) -> one line + exit 128 + signal."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from .signals import stop_on_signals, stop_state

        # the report below is printed before the default handlers return; run as a script, they never do
        with stop_on_signals(final=func.__module__ == "__main__"):
            try:
                return func(*args, **kwargs)
            except UserError as err:
                stop_state.stopping = True
                print(f"error: {one_line(err)}", file=sys.stderr, flush=True)
                raise SystemExit(2) from None
            except KeyboardInterrupt as err:
                stop_state.stopping = True
                stop = err if isinstance(err, Interrupted) else Interrupted(signal.SIGINT)
                print(stop, file=sys.stderr, flush=True)
                raise SystemExit(128 + stop.signum) from None
            finally:
                # Free the run's objects (reference cycles keep a Trainer alive) while the interpreter is whole:
                # a DDP model collected during interpreter shutdown frees gloo work that needs the GIL, and
                # the process aborts at exit ("terminate called without an active exception", SIGABRT).
                gc.collect()

    return wrapper  # type: ignore[return-value]


def one_line(err: UserError) -> str:
    """The user's message, also when a DataLoader worker raised it.

    torch re-raises a worker's exception in the main process as the same type whose
    message is the worker's whole traceback; its last line is ``<module>.UserError: <message>``.
    """
    text = str(err).strip()
    if "Original Traceback" not in text:
        return text
    last = text.splitlines()[-1]
    prefix = f"{type(err).__module__}.{type(err).__qualname__}: "
    return last[len(prefix):] if last.startswith(prefix) else last


def require_file(path, what: str, hint: str) -> None:
    """Raise a UserError unless ``path`` is an existing, readable, non-empty file."""
    import os

    if not os.path.isfile(path):
        raise UserError(f"{what} not found: {path} ({hint})")
    if os.path.getsize(path) == 0:
        raise UserError(f"{what} is empty: {path} ({hint})")
    if not os.access(path, os.R_OK):
        raise UserError(f"{what} is not readable: {path} (check its permissions)")
