"""Stop signals (SIGINT, SIGTERM, SIGHUP) end a run cleanly: one line, no traceback, nothing half-written.

Two layers, both only in the main thread of the process that installed them:

* :func:`stop_on_signals` (every entry script, through :func:`common.errors.cli_main`): a stop
  signal raises :class:`common.errors.Interrupted` once, which the entry script turns into one
  ``stopped by SIG...`` line and exit status 128 + signal; the run directory of a run that had
  only started is removed on the way out (:func:`common.cli.run_context`).
* the training loop's catcher (``common.engine``): the first signal finishes the step and saves;
  a second one aborts the step by raising ``Interrupted`` (the last checkpoint stays as it was).

Once a stop is under way (an Interrupted or a graceful stop is on its way out) further signals are
ignored, so clean-up code is never interrupted halfway.  A forked child (a DataLoader worker)
inherits the handlers: there they do what the signal would do without them, or, inside the training
loop, nothing, so that a Ctrl-C sent to the whole process group lets the main process finish its step.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from typing import Iterator

from .errors import Interrupted

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class _StopState:
    stopping = False  # an Interrupted or a graceful stop is on its way out: ignore further signals


stop_state = _StopState()


def in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def signal_notice(text: str) -> None:
    """Write one line to stderr from a signal handler (os.write: no lock that the interrupted code may hold)."""
    try:
        os.write(sys.stderr.fileno(), (text + "\n").encode(errors="replace"))
    except (OSError, ValueError, AttributeError):
        pass


def _as_default(signum: int) -> None:
    """In a forked child: what ``signum`` would have done without a Python handler."""
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def install_handlers(handler) -> dict:
    """Install ``handler`` for every stop signal; returns the previous handlers (see :func:`restore_handlers`)."""
    return {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}


def restore_handlers(old: dict) -> None:
    for sig, handler in old.items():
        signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


@contextlib.contextmanager
def redeliver_dropped_stops() -> Iterator[None]:
    """Send again a stop that Python dropped because it was raised inside a finalizer.

    A signal handler runs at the next bytecode of the main thread, which may belong to a finalizer
    (a ``__del__``, a weakref callback such as WeakKeyDictionary's ``remove``).  Python cannot
    propagate an exception from there: it prints "Exception ignored in ..." and goes on, so the
    run would neither stop nor say why.  The unraisable hook sees such an Interrupted instead and
    sends the same signal again from a timer thread, a few milliseconds later, so that the handler
    runs outside both the finalizer and the hook (a handler run inside the hook would be dropped too).
    """
    previous, pid, active = sys.unraisablehook, os.getpid(), [True]

    def resend(signum: int) -> None:
        if active[0]:
            stop_state.stopping = False
            os.kill(pid, signum)

    def hook(unraisable):
        if isinstance(unraisable.exc_value, Interrupted) and in_main_thread():
            timer = threading.Timer(0.005, resend, (unraisable.exc_value.signum,))
            timer.daemon = True
            timer.start()
        else:
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        active[0] = False
        sys.unraisablehook = previous


@contextlib.contextmanager
def stop_on_signals(final: bool = False) -> Iterator[None]:
    """A stop signal raises Interrupted once (later ones are ignored); previous handlers restored on exit.

    ``final``: the block is the whole program (an entry script run as ``__main__``): afterwards a stop
    signal ends the process at once with status 128 + signal, instead of Python's default handlers
    raising KeyboardInterrupt inside the interpreter's shutdown (a traceback from an exit hook).
    """
    if not in_main_thread():
        yield
        return
    pid = os.getpid()

    def handle(signum, frame):
        if os.getpid() != pid:
            _as_default(signum)
        elif not stop_state.stopping:
            stop_state.stopping = True
            raise Interrupted(signum)

    def exit_now(signum, frame):
        if os.getpid() != pid:
            _as_default(signum)
        else:
            os._exit(128 + signum)

    stop_state.stopping = False
    old = install_handlers(handle)
    try:
        with redeliver_dropped_stops():
            yield
    finally:
        stop_state.stopping = True  # a signal now, while the handlers are put back, is ignored
        if final:
            install_handlers(exit_now)
        else:
            restore_handlers(old)
            stop_state.stopping = False
