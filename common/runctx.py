"""What a run decided once, and how to continue it: the engine's view of a run, free of the command line.

* :class:`RunContext`: device, precision, DDP membership and run directory (built from the
  flags by :func:`common.cli.run_context`, or by :meth:`RunContext.local` in tests/notebooks).
* :func:`require_checkpoint`: the one existence check of a checkpoint (every loader calls it);
  :func:`check_resume`: every refusal of a resume that can be made before anything is written.
* :func:`resume_command`: the shell command that continues this process's run.

Importing this module stays cheap (no torch): entry scripts import the CLI layer, which
re-exports these, before torch loads.
"""
from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import UserError

if TYPE_CHECKING:
    import torch

    from .device import Precision
    from .distributed import DistInfo
    from .rundir import RunDir


@dataclass
class RunContext:
    """Everything a run decided once: device, precision, DDP membership, run directory, and the
    engine's opt-in speed flags (``compile``: a torch.compile backend or None; ``channels_last``)."""

    device: torch.device
    precision: Precision
    dist: DistInfo
    run: RunDir | None = None
    compile: str | None = None
    channels_last: bool = False

    @classmethod
    def local(cls, device: str | torch.device = "cpu", run: RunDir | None = None, amp: bool = False, *,
              compile: str | None = None, channels_last: bool = False) -> "RunContext":
        """A single-process context without seeding or config.json (tests, notebooks)."""
        import torch

        from .device import choose_precision
        from .distributed import DistInfo

        device = torch.device(device)
        return cls(device, choose_precision(device, amp=amp), DistInfo(), run, compile, channels_last)

    def close(self, ended_normally: bool = True) -> None:
        """Close TensorBoard and leave the DDP process group (what every run does on exit); only a run
        that ended normally waits for the other ranks first (:func:`common.distributed.cleanup_distributed`)."""
        from .distributed import cleanup_distributed

        try:
            if self.run is not None:
                self.run.close()
        finally:
            cleanup_distributed(synchronize=ended_normally)


def require_checkpoint(path: str | os.PathLike, flag: str | None = "--resume") -> Path:
    """``path`` as a Path if it is a file, else the one-line error naming ``flag`` (None: a file of the
    run itself).  The one existence check of a checkpoint: :func:`common.checkpoint.load_checkpoint`
    and :func:`check_resume` call it."""
    path = Path(path)
    given = f" given to {flag}" if flag else ""
    if path.is_dir():
        inside = next((p for p in (path / "models" / "checkpoint.pth.tar", path / "checkpoint.pth.tar")
                       if p.is_file()), None)
        fix = f"did you mean {inside}?" if inside else "pass the checkpoint file itself"
        raise UserError(f"{path}{given} is a directory, not a checkpoint file; {fix}")
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}" + (f" (check the path given to {flag})" if flag else ""))
    return path


def check_resume(checkpoint: str | os.PathLike, assignment: str, *, logdir: str | os.PathLike | None = None,
                 resume_run: str | os.PathLike | None = None, epochs: int | None = None,
                 arch: str | None = None) -> Path:
    """Every refusal of ``--resume checkpoint`` that can be made before anything is written.

    Reads only the checkpoints' positions (:func:`common.checkpoint.read_position`).  Refuses a
    checkpoint of another assignment (its run's config.json) or, given ``arch``, of another model;
    with ``epochs``, one that leaves nothing to train; and, when the run would continue in the
    checkpoint's own directory (``--logdir`` absent or that directory; ``resume_run`` for scripts
    that nest checkpoints deeper than ``<run>/models/``), an older checkpoint than the run's newest,
    which continuing would overwrite.  Returns the checkpoint's path.
    """
    from .checkpoint import check_arch, read_position
    from .rundir import run_of_checkpoint

    path = require_checkpoint(checkpoint)
    mine = read_position(path)
    own = Path(resume_run).resolve() if resume_run else run_of_checkpoint(path)
    if own is not None:
        _check_assignment(path, own, assignment)
    check_arch(mine, path, arch)
    if epochs is not None and mine["epoch"] >= epochs:
        raise UserError(f"--resume {path} is {_where(mine)} and --epochs {epochs} leaves nothing to train; "
                        f"pass --epochs above {mine['epoch']} to train on")
    if own is not None and (not logdir or Path(logdir).resolve() == own):
        _check_newest(path, mine, own)
    return path


def describe_position(epoch: int, step: int) -> str:
    """A checkpoint's place in training in words (``epoch``: epochs done, ``step``: batches of the next one)."""
    if step:
        return f"{step} steps into epoch {epoch + 1}"
    return f"at the end of epoch {epoch}" if epoch else "at the start of training"


def _where(position: dict) -> str:
    return describe_position(position["epoch"], position["step"])


def _check_assignment(path: Path, run: Path, assignment: str) -> None:
    import json

    try:
        theirs = json.loads((run / "config.json").read_text(encoding="utf-8")).get("assignment")
    except (OSError, ValueError, AttributeError):  # no (readable) config: nothing to compare
        return
    if theirs and theirs != assignment:
        raise UserError(f"--resume {path} was written by {theirs}, not {assignment} (see {run}/config.json); "
                        "pass a checkpoint that this script wrote")


def _check_newest(path: Path, mine: dict, run: Path) -> None:
    """Continuing ``path`` in ``run`` must not overwrite a newer checkpoint there."""
    from .checkpoint import CHECKPOINT_NAME, read_position

    newest = path.parent / CHECKPOINT_NAME
    if not newest.is_file() or newest.resolve() == path.resolve():
        return
    fork = f"or continue {path.name} in a new run: add --logdir NEW_DIR"
    try:
        theirs = read_position(newest, flag=None)
    except UserError as err:
        raise UserError(f"--resume {path} would continue run {run} over its latest checkpoint, which cannot be "
                        f"checked ({err}); move that file aside if it is worthless, {fork}") from None
    if (theirs["epoch"], theirs["step"]) > (mine["epoch"], mine["step"]):
        raise UserError(f"--resume {path} is {_where(mine)}, but its run {run} went further: {newest} is "
                        f"{_where(theirs)}, and continuing the older one there would overwrite it and the run's "
                        f"metrics; resume the newer one with --resume {newest}, {fork}")


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
