"""Run directories: ``logs/<assignment>/exp_<YYYY-mm-dd_HH-MM-SS>/``.

Layout::

    events.out.tfevents.*      TensorBoard scalars/images
    models/checkpoint.pth.tar  latest, every epoch
    models/model_best.pth.tar  best validation metric so far
    figures/*.png              plots (captions in figures/captions.json)
    config.json                args, git SHA, library versions, device
    metrics.json               final numbers, flat keys

Only rank 0 writes; other ranks get a RunDir whose writers do nothing.
"""
from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from .errors import UserError
from .io import atomic_write_json, read_json

REPO_ROOT = Path(__file__).resolve().parent.parent


def git_sha() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5)
        sha = out.stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO_ROOT, capture_output=True,
                               text=True, timeout=5).stdout.strip()
        return (sha + ("-dirty" if dirty else "")) if sha else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def library_versions() -> dict:
    import numpy
    import torch

    versions = {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__}
    try:
        import torchvision

        versions["torchvision"] = torchvision.__version__
    except ImportError:
        pass
    versions["cuda"] = torch.version.cuda or "none"
    return versions


def default_run_path(assignment: str, root: str | os.PathLike = "logs") -> Path:
    stamp = _dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    path = Path(root) / assignment / f"exp_{stamp}"
    suffix = 1
    while path.exists():  # two runs started in the same second
        path = Path(root) / assignment / f"exp_{stamp}_{suffix}"
        suffix += 1
    return path


def holds_run(path: Path) -> bool:
    """Does ``path`` hold anything but the empty ``models/`` and ``figures/`` a new run starts with?"""
    if not path.is_dir():
        return path.exists()
    return any(not (entry.is_dir() and entry.name in ("models", "figures") and not any(entry.iterdir()))
               for entry in path.iterdir())


def run_of_checkpoint(checkpoint: str | os.PathLike) -> Path | None:
    """The run directory a checkpoint was written into (``<run>/models/<file>``), else None."""
    parent = Path(checkpoint).resolve().parent
    return parent.parent if parent.name == "models" else None


class RunDir:
    """A run's output folder. ``writes=False`` (non-zero ranks) turns every write into a no-op.

    A directory that holds anything (another run, a user's files) is never written unless
    ``resuming`` says it is the run being continued.
    """

    def __init__(self, path: str | os.PathLike, *, writes: bool = True, resuming: bool = False):
        self.path = Path(path)
        self.writes = writes
        self._tb = None
        self._start: _Start | None = None
        if not writes:
            return
        if self.path.exists() and not self.path.is_dir():
            raise UserError(f"--logdir {self.path} is a file, not a directory; pass another --logdir")
        if holds_run(self.path) and not resuming:
            ckpt = self.path / "models" / "checkpoint.pth.tar"
            resume = f", or continue that run with --resume {ckpt} (without --logdir)" if ckpt.is_file() else ""
            raise UserError(f"run directory {self.path} already holds a run or other files; pass a new --logdir "
                            f"(or none: each run gets its own logs/<assignment>/exp_<time>/){resume}")
        self._start = _Start(self.path)
        try:
            for sub in ("", "models", "figures"):
                (self.path / sub).mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UserError(f"cannot create run directory {self.path} ({err.strerror or err}); "
                            "pass a writable --logdir") from None
        if not os.access(self.path, os.W_OK | os.X_OK):
            raise UserError(f"run directory {self.path} is not writable; pass another --logdir")

    @classmethod
    def create(cls, assignment: str, logdir: str | None = None, *, resume: str | None = None,
               resume_run: str | os.PathLike | None = None, writes: bool = True) -> "RunDir":
        """Where a run writes: ``--logdir`` if given, else the run being resumed, else a new folder.

        ``--resume`` continues in the checkpoint's own run directory.  With ``--logdir`` too,
        the checkpoint continues in that directory only if it is new (an explicit fork);
        a directory holding another run is refused.  ``resume_run`` names the run being
        continued when a script nests checkpoints deeper than ``<run>/models/``.
        """
        own = Path(resume_run).resolve() if resume_run else run_of_checkpoint(resume) if resume else None
        if logdir:
            same = own is not None and Path(logdir).resolve() == own
            if resume and not same and holds_run(Path(logdir)):
                where = f"drop --logdir to continue in its own run {own}, or " if own else ""
                raise UserError(f"--logdir {logdir} holds another run, which --resume {resume} would overwrite; "
                                f"{where}pass a new --logdir to continue the checkpoint there")
            return cls(logdir, writes=writes, resuming=same)
        if own is not None:
            return cls(own, writes=writes, resuming=True)
        return cls(default_run_path(assignment), writes=writes)

    @property
    def models(self) -> Path:
        return self.path / "models"

    @property
    def figures(self) -> Path:
        return self.path / "figures"

    def figure_path(self, name: str) -> Path:
        return self.figures / (name if name.endswith(".png") else f"{name}.png")

    @property
    def tb(self):
        """Lazily created TensorBoard SummaryWriter (a do-nothing stub when not writing)."""
        if self._tb is None:
            if self.writes:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(log_dir=str(self.path))
            else:
                self._tb = _NullWriter()
        return self._tb

    def write_config(self, args: Any, device: Any = None, extra: dict | None = None) -> None:
        if not self.writes:
            return
        from .checkpoint import plain_args

        config = {"args": plain_args(args), "git_sha": git_sha(), "versions": library_versions(),
                  "device": str(device), "command": " ".join(sys.argv)}
        if device is not None and getattr(device, "type", None) == "cuda":
            import torch

            config["device_name"] = torch.cuda.get_device_name(device)
        config.update(extra or {})
        path = self.path / "config.json"
        if path.exists():  # a resumed run keeps the original config; each resume adds its own
            stamp, n = f"config_resume_{_dt.datetime.now():%Y-%m-%d_%H-%M-%S}", 0
            path = self.path / f"{stamp}.json"
            while path.exists():  # two resumes in one second
                n += 1
                path = self.path / f"{stamp}_{n}.json"
        if self._start is not None:
            self._start.wrote(path)
        atomic_write_json(path, config)

    def discard_failed_start(self) -> bool:
        """Undo a start that failed before the run wrote anything of its own; True if something was removed.

        Removes the files the start wrote (config.json or config_resume_*.json) and the directories it
        created, but only while every other file is as it was before the start: a run that saved a
        checkpoint, a figure or TensorBoard events keeps everything.  A directory that existed before
        the start is never removed.
        """
        return self._start is not None and self._start.undo()

    def write_metrics(self, metrics: dict) -> None:
        """Merge flat ``metrics`` into metrics.json (atomic)."""
        if not self.writes:
            return
        merged = read_json(self.path / "metrics.json", {}) or {}
        merged.update(metrics)
        atomic_write_json(self.path / "metrics.json", merged)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


class _Start:
    """What a run directory held before a run started in it, so a failed start can be undone exactly."""

    def __init__(self, path: Path):
        self.path = path
        self.written: set[Path] = set()
        self.files = _file_stats(path)
        self.dirs = {folder for folder, _ in _walk(path)}
        self.created: Path | None = None  # the highest directory this start creates (None: the run's existed)
        if not path.exists():
            self.created = path
            while not self.created.parent.exists():
                self.created = self.created.parent

    def wrote(self, path: Path) -> None:
        self.written.add(path)

    def undo(self) -> bool:
        try:
            return self._undo()
        except OSError:  # clean-up runs while another error is on its way out: never replace that error
            return False

    def _undo(self) -> bool:
        if not self.path.is_dir():
            return False
        now = _file_stats(self.path)
        if any(self.files.get(p) != stat and p not in self.written for p, stat in now.items()):
            return False  # the run wrote something of its own (or someone else did): keep everything
        removed = False
        for path in self.written:
            if path.exists():
                path.unlink()
                removed = True
        for folder, _ in sorted(_walk(self.path), key=lambda item: -len(item[0].parts)):  # deepest first
            if folder not in self.dirs and folder != self.path and not any(folder.iterdir()):
                folder.rmdir()
                removed = True
        if self.created is not None:
            folder = self.path
            while not any(folder.iterdir()):
                folder.rmdir()
                removed = True
                if folder == self.created:
                    break
                folder = folder.parent
        return removed


def _walk(root: Path):
    """(folder, file names) of every folder under ``root``, ``root`` included; symlinks not followed."""
    for folder, _, files in os.walk(root):
        yield Path(folder), files


def _file_stats(root: Path) -> dict[Path, tuple[int, int]]:
    """(size, mtime) of every file under ``root`` (none if it does not exist)."""
    stats = {}
    for folder, files in _walk(root):
        for name in files:
            try:
                st = (folder / name).lstat()
            except FileNotFoundError:  # removed while we looked
                continue
            stats[folder / name] = (st.st_size, st.st_mtime_ns)
    return stats


class _NullWriter:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None
