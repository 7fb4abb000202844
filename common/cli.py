"""Flags every entry script shares, the run context they turn into, and checked flag types.

    parser = argparse.ArgumentParser(...)
    parser.add_argument("-b", "--batch-size", type=positive_int, default=64)
    add_engine_args(parser)                  # --device --seed --logdir --amp/--no-amp --quiet
    args = parser.parse_args()
    with run_context(args, "miniplaces") as ctx:   # device, precision, seeds, DDP, run dir, config.json
        trainer = Trainer(model, optimizer, train, val, ctx=ctx, cfg=...)
        ...                                  # TensorBoard closed and DDP left on any exit
"""
from __future__ import annotations

import argparse
import contextlib
import math
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from .errors import UserError

if TYPE_CHECKING:  # importing this module stays cheap: entry scripts build their parsers before torch loads
    import torch

    from .device import Precision
    from .distributed import DistInfo
    from .rundir import RunDir


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
    if resume:
        group.add_argument("--resume", default="", metavar="PATH",
                           help="checkpoint to continue from (exact epoch/step, optimizer, scheduler, RNG); "
                                "continues in the checkpoint's own run directory, or in a new --logdir")


def demo_parser(description: str, *, out_help: str, quick_help: str) -> argparse.ArgumentParser:
    """The flags of every assignment's demo stage: ``--out DIR [--quick] [--device D]``."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help=out_help)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    return parser


# ------------------------------------------------------------------- run context
@dataclass
class RunContext:
    """Everything a run decided once: device, precision, DDP membership, run directory."""

    device: torch.device
    precision: Precision
    dist: DistInfo
    run: RunDir | None = None

    @classmethod
    def local(cls, device: str | torch.device = "cpu", run: RunDir | None = None, amp: bool = False) -> "RunContext":
        """A single-process context without seeding or config.json (tests, notebooks)."""
        import torch

        from .device import choose_precision
        from .distributed import DistInfo

        device = torch.device(device)
        return cls(device, choose_precision(device, amp=amp), DistInfo(), run)

    def close(self) -> None:
        """Close TensorBoard and leave the DDP process group (what every run does on exit)."""
        from .distributed import cleanup_distributed

        try:
            if self.run is not None:
                self.run.close()
        finally:
            cleanup_distributed()


def setup_run(args: argparse.Namespace, assignment: str, *, write: bool = True,
              resume_run: str | os.PathLike | None = None) -> RunContext:
    """Resolve the device, seed everything, join DDP if under torchrun, create the run dir.

    Prefer :func:`run_context`, which also tears the run down on every exit path.
    ``resume_run``: see :meth:`RunDir.create`.
    """
    from .device import choose_precision, resolve_device, seed_everything
    from .distributed import cleanup_distributed, init_distributed
    from .rundir import RunDir

    resume = getattr(args, "resume", None) or None
    if resume and not Path(resume).is_file():  # before anything is created
        raise UserError(f"checkpoint not found: {resume} (check the path given to --resume)")
    device = resolve_device(getattr(args, "device", "auto"))
    dist_info, device = init_distributed(device)
    seed_everything(getattr(args, "seed", 0))  # same seed on every rank: identical initial weights
    precision = choose_precision(device, amp=getattr(args, "amp", False))
    try:
        run = RunDir.create(assignment, getattr(args, "logdir", None), resume=resume, resume_run=resume_run,
                            writes=write and dist_info.is_main)
    except BaseException:
        cleanup_distributed()
        raise
    run.write_config(args, device, {"assignment": assignment, "precision": precision.name,
                                    "world_size": dist_info.world_size})
    if dist_info.is_main and not getattr(args, "quiet", False):
        print(f"run directory: {run.path}  device: {device}  precision: {precision.name}"
              + (f"  world size: {dist_info.world_size}" if dist_info.enabled else ""), flush=True)
    return RunContext(device, precision, dist_info, run)


@contextlib.contextmanager
def run_context(args: argparse.Namespace, assignment: str, *, write: bool = True,
                resume_run: str | os.PathLike | None = None) -> Iterator[RunContext]:
    """``with run_context(args, "name") as ctx:``: :func:`setup_run`, then :meth:`RunContext.close` on any exit."""
    ctx = setup_run(args, assignment, write=write, resume_run=resume_run)
    try:
        yield ctx
    finally:
        ctx.close()


# --------------------------------------------------------------- resume command
def resume_command(checkpoint: str | os.PathLike, argv: list[str] | None = None) -> str:
    """The shell command that continues this process's run from ``checkpoint`` (shell-quoted).

    Repeats ``torchrun --nproc_per_node=N`` when the run was started by torchrun, and
    drops any earlier ``--resume X``.
    """
    argv = list(sys.argv if argv is None else argv)
    kept, skip = [], False
    for arg in argv:
        if skip or arg == "--resume":
            skip = not skip
            continue
        if not arg.startswith("--resume="):
            kept.append(arg)
    if "TORCHELASTIC_RUN_ID" in os.environ and "LOCAL_WORLD_SIZE" in os.environ:
        launcher = ["torchrun", f"--nproc_per_node={os.environ['LOCAL_WORLD_SIZE']}"]
        nodes = int(os.environ.get("WORLD_SIZE", "1")) // max(1, int(os.environ["LOCAL_WORLD_SIZE"]))
        if nodes > 1:
            launcher.append(f"--nnodes={nodes}")
    else:
        launcher = [sys.executable]
    return shlex.join([*launcher, *kept, "--resume", os.fspath(checkpoint)])
