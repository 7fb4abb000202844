"""What a run decided once, and how to continue it: the engine's view of a run, free of the command line.

* :class:`RunContext`: device, precision, DDP membership and run directory (built from the
  flags by :func:`common.cli.run_context`, or by :meth:`RunContext.local` in tests/notebooks).
* :func:`require_checkpoint`: the one existence check of a checkpoint a run continues, made
  before anything is written.
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

    def close(self) -> None:
        """Close TensorBoard and leave the DDP process group (what every run does on exit)."""
        from .distributed import cleanup_distributed

        try:
            if self.run is not None:
                self.run.close()
        finally:
            cleanup_distributed()


def require_checkpoint(path: str | os.PathLike, flag: str = "--resume") -> Path:
    """``path`` as a Path if it is a file, else the one-line error naming ``flag``."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path} (check the path given to {flag})")
    return path


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
