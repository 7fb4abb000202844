"""Flags every entry script shares, the run context they turn into, and checked flag types.

    parser = argparse.ArgumentParser(...)
    parser.add_argument("-b", "--batch-size", type=positive_int, default=64)
    add_engine_args(parser)                  # --device --seed --logdir --amp/--no-amp --quiet, --compile ...
    args = parser.parse_args()
    with run_context(args, "miniplaces") as ctx:   # device, precision, seeds, DDP, run dir, config.json
        trainer = Trainer(model, optimizer, train, val, ctx=ctx, cfg=...)
        ...                                  # TensorBoard closed and DDP left on any exit

``run_context(args, name, resume=PATH or None)`` says whether the run continues a checkpoint
(default: ``args.resume``).  :class:`common.runctx.RunContext`, the engine's view of a run,
lives apart from this module, so the engine does not depend on the command line.
"""
from __future__ import annotations

import argparse
import contextlib
import math
import os
from pathlib import Path
from typing import Any, Callable, Iterator

from .runctx import RunContext, check_resume  # RunContext re-exported: assignment code imports it from here

# Importing this module stays cheap (no torch): entry scripts build their parsers before torch loads.
FROM_ARGS = object()  # run_context's default resume: the checkpoint named by args.resume


# ------------------------------------------------------------ checked flag types
# argparse turns an ArgumentTypeError into one "error: argument -b/--batch-size: ..." line, exit 2.
def _number(kind, text: str, ok, what: str):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and ok(value)):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
    return value


def positive_int(text: str) -> int:
    return _number(int, text, lambda v: v > 0, "a positive integer")


def nonnegative_int(text: str) -> int:
    return _number(int, text, lambda v: v >= 0, "an integer >= 0")


def positive_float(text: str) -> float:
    return _number(float, text, lambda v: v > 0, "a positive finite number")


def nonnegative_float(text: str) -> float:
    return _number(float, text, lambda v: v >= 0, "a finite number >= 0")


def finite_float(text: str) -> float:
    return _number(float, text, lambda v: True, "a finite number")


def fraction(text: str) -> float:
    return _number(float, text, lambda v: 0 <= v <= 1, "between 0 and 1")


def open_fraction(text: str) -> float:
    return _number(float, text, lambda v: 0 <= v < 1, "in [0, 1)")


# ------------------------------------------------------------------ engine flags
def add_engine_args(parser: argparse.ArgumentParser, *, training: bool = True, resume: bool = False) -> None:
    group = parser.add_argument_group("engine (common to every assignment)")
    group.add_argument("--device", default="auto",
                       help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps (default: auto)")
    group.add_argument("--seed", type=int, default=0, help="seed for python/numpy/torch and data order (default: 0)")
    group.add_argument("--logdir", default=None,
                       help="run directory (default: logs/<assignment>/exp_<YYYY-mm-dd_HH-MM-SS>/); "
                            "a directory that holds another run is never written")
    group.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")
    if training:
        group.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True,
                           help="mixed precision on CUDA (bf16 if supported, else fp16 + GradScaler); "
                                "no effect on CPU (default: on)")
        add_speed_args(group)
    if resume:
        group.add_argument("--resume", default="", metavar="PATH",
                           help="checkpoint to continue from (exact epoch/step, optimizer, scheduler, RNG); "
                                "continues in the checkpoint's own run directory, or in a new --logdir")


COMPILE_BACKENDS = ("inductor", "aot_eager", "eager")  # torch.compile backends --compile accepts


def add_speed_args(group) -> None:
    """The engine's opt-in speed flags (training scripts; all recorded in config.json)."""
    group.add_argument("--compile", nargs="?", const="inductor", default=None, choices=COMPILE_BACKENDS,
                       metavar="BACKEND",
                       help="torch.compile the model, on any device; BACKEND inductor (the default: generates "
                            "kernels, needs a C++ compiler), aot_eager or eager (trace only, to debug). The first "
                            "training step and the first evaluation batch compile, and the log says how long "
                            "that took; checkpoints hold the plain model's weights (default: off)")
    group.add_argument("--channels-last", action="store_true",
                       help="channels-last (NHWC) memory format for the model and its 4-D float inputs, on any "
                            "device; only for models with 2-D convolutions (nn.Conv2d), where cuDNN runs faster "
                            "in it (default: off)")
    group.add_argument("--tf32", action=argparse.BooleanOptionalAction, default=True,
                       help="TF32 tensor cores for float32 matmuls and cuDNN convolutions on GPUs that have them "
                            "(Ampere and newer: 10-bit mantissa, several times faster); --no-tf32 keeps full "
                            "float32. No effect on CPU (default: on)")


def demo_parser(description: str, *, out_help: str, quick_help: str) -> argparse.ArgumentParser:
    """The flags of every assignment's demo stage: ``--out DIR [--quick] [--device D]``."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help=out_help)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    return parser


# ------------------------------------------------------------------- run context
def setup_run(args: argparse.Namespace, assignment: str, *, resume: str | os.PathLike | None | object = FROM_ARGS,
              write: bool = True, resume_run: str | os.PathLike | None = None, epochs: int | None = None,
              arch: str | None = None) -> RunContext:
    """Resolve the device, seed everything, join DDP if under torchrun, create the run dir.

    Prefer :func:`run_context`, which also tears the run down on every exit path.
    ``resume``: the checkpoint this run *continues* (its run directory is reused); ``None`` for a
    run that only reads a checkpoint (evaluation writes a new run directory). The default takes
    ``args.resume``, for scripts whose ``--resume`` means nothing else.  ``resume_run``: see
    :meth:`RunDir.create`.  ``epochs`` (the ``--epochs`` the run trains to) and ``arch`` (the model
    it builds) let :func:`common.runctx.check_resume` refuse more before anything is written.
    """
    from .device import choose_precision, compile_problem, resolve_device, seed_everything, set_tf32
    from .errors import UserError
    from .distributed import cleanup_distributed, init_distributed
    from .rundir import RunDir

    if resume is FROM_ARGS:
        resume = getattr(args, "resume", None)
    if resume:  # before anything is created
        resume = os.fspath(check_resume(resume, assignment, logdir=getattr(args, "logdir", None),
                                        resume_run=resume_run, epochs=epochs, arch=arch))
    device = resolve_device(getattr(args, "device", "auto"))
    backend = getattr(args, "compile", None)
    problem = compile_problem(backend, device) if backend else None
    if problem:
        raise UserError(problem)
    dist_info, device = init_distributed(device)
    seed_everything(getattr(args, "seed", 0))  # same seed on every rank: identical initial weights
    precision = choose_precision(device, amp=getattr(args, "amp", False))
    tf32 = device.type == "cuda" and getattr(args, "tf32", None) is not None
    if tf32:
        set_tf32(args.tf32)  # the training policy (common/device.py); comparisons use exact_fp32()
    try:
        run = RunDir.create(assignment, getattr(args, "logdir", None), resume=resume, resume_run=resume_run,
                            writes=write and dist_info.is_main)
        try:
            run.write_config(args, device, {"assignment": assignment, "precision": precision.name,
                                            "world_size": dist_info.world_size, "tf32": bool(tf32 and args.tf32)})
        except BaseException:
            run.discard_failed_start()
            raise
    except BaseException:
        cleanup_distributed(synchronize=False)
        raise
    if dist_info.is_main and not getattr(args, "quiet", False):
        print(f"run directory: {run.path}  device: {device}  precision: {precision.name}"
              + (f"  world size: {dist_info.world_size}" if dist_info.enabled else ""), flush=True)
    return RunContext(device, precision, dist_info, run, compile=backend,
                      channels_last=bool(getattr(args, "channels_last", False)))


@contextlib.contextmanager
def run_context(args: argparse.Namespace, assignment: str, *, resume: str | os.PathLike | None | object = FROM_ARGS,
                write: bool = True, resume_run: str | os.PathLike | None = None, epochs: int | None = None,
                arch: str | None = None) -> Iterator[RunContext]:
    """``with run_context(args, "name") as ctx:``: :func:`setup_run`, then :meth:`RunContext.close` on any exit
    (and the TF32 settings the run changed are put back: a notebook or test goes on as before).

    A run that fails (an error, a stop signal) before writing anything of its own leaves nothing behind:
    the files its start wrote and the directories it created are removed
    (:meth:`common.rundir.RunDir.discard_failed_start`).
    """
    from .device import restore_tf32, tf32_state
    from .signals import stop_state

    before = tf32_state()
    try:
        ctx = setup_run(args, assignment, resume=resume, write=write, resume_run=resume_run, epochs=epochs,
                        arch=arch)
        try:
            yield ctx
        except BaseException:
            stop_state.stopping = True  # on the way out: a stop signal must not cut the clean-up short
            try:
                ctx.close(ended_normally=False)
            finally:
                if ctx.run is not None:
                    ctx.run.discard_failed_start()
            raise
        ctx.close()
    finally:
        restore_tf32(before)


def run_main(argv: list[str] | None, build_parser: Callable[[], argparse.ArgumentParser], assignment: str,
             body: Callable[..., Any], prepare: Callable[[argparse.Namespace], tuple] | None = None) -> Any:
    """An entry script's ``main``: parse ``argv``; ``prepare(args)`` reads and checks the inputs before
    the run directory exists; then ``body(args, ctx, *prepared)`` runs inside :func:`run_context`."""
    args = build_parser().parse_args(argv)
    prepared = prepare(args) if prepare is not None else ()
    with run_context(args, assignment) as ctx:
        return body(args, ctx, *prepared)
