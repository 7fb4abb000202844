"""Checkpoints: one format for every assignment, written atomically, loaded safely.

Format (a plain dict, loadable with ``torch.load(weights_only=True)``)::

    {epoch, step, arch, state_dict, optimizer, scheduler, scaler, best_metric, args,
     rng_state, history, meters, model_config, schedule}

``epoch`` is the epoch to run next and ``step`` the number of its batches already
done (0 at epoch boundaries), so ``--resume`` continues exactly where the run stopped.
``history`` is the list of per-epoch records, ``meters`` the running sums of an
interrupted epoch (else None), ``model_config`` the plain values a script needs to
rebuild the model (or None), and ``schedule`` the LR schedule's ``{steps_per_epoch,
epochs, warmup_epochs, base_lrs, name, params}``, which a resume checks.
"""
from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path
from typing import Any

import torch

from .errors import UserError
from .io import atomic_write
from .runctx import require_checkpoint

CHECKPOINT_NAME = "checkpoint.pth.tar"
BEST_NAME = "model_best.pth.tar"


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to a temp file, then ``os.replace``: a crash keeps the old file."""
    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def save_checkpoint(state: dict, models_dir: str | os.PathLike, is_best: bool = False) -> Path:
    """Write ``models/checkpoint.pth.tar`` (and ``model_best.pth.tar`` when ``is_best``)."""
    models_dir = Path(models_dir)
    path = atomic_torch_save(state, models_dir / CHECKPOINT_NAME)
    if is_best:
        atomic_write(models_dir / BEST_NAME, lambda tmp: shutil.copyfile(path, tmp))
    return path


def plain_args(args: Any) -> dict:
    """argparse Namespace/dict -> dict of plain values (safe for weights_only loading)."""
    items = vars(args) if hasattr(args, "__dict__") else dict(args or {})
    out = {}
    for key, value in items.items():
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        elif isinstance(value, tuple):
            value = list(value)
        elif not isinstance(value, (str, int, float, bool, list, dict, type(None))):
            value = str(value)
        out[key] = value
    return out


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu", *, expected_arch: str | None = None,
                    flag: str | None = "--resume", mmap: bool = False) -> dict:
    """Load a checkpoint with ``weights_only=True``; every failure is one actionable line.

    ``map_location`` defaults to the CPU so checkpoints saved on a GPU load anywhere;
    ``flag`` names the command-line flag that gave the path, for the error messages (None:
    a file of the run itself).  The zip records' CRC-32s are verified first (see above), once per
    version of the file (a file read again unchanged is not checked twice).  ``mmap``: map the
    tensors instead of reading them (zip-format files only).
    """
    path = require_checkpoint(path, flag)
    given = f" given to {flag}" if flag else ""
    other = _another(path)
    try:
        _verify_once(path)
    except PermissionError as err:
        raise UserError(f"checkpoint {path}{given} cannot be read ({err.strerror}); check its permissions") from None
    except OSError as err:  # e.g. an I/O error of the disk
        raise UserError(f"checkpoint {path}{given} cannot be read ({err.strerror or err}); {other}") from None
    except _Damaged as err:
        raise UserError(f"checkpoint {path}{given} {err}; {other}, or copy it again from where it was saved") from None
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as err:  # noqa: BLE001 - whatever a damaged file makes the unpickler raise
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"checkpoint {path}{given} is corrupt or not a PyTorch checkpoint "
                        f"({first[:160]}); {other}") from None
    if not isinstance(ckpt, dict):
        raise UserError(f"checkpoint {path} holds a {type(ckpt).__name__}, not a checkpoint dict")
    check_arch(ckpt, path, expected_arch)
    return ckpt


def _another(path: Path) -> str:
    """The way out when ``path`` cannot be used: another checkpoint of its run, named only if it exists."""
    for name in (BEST_NAME, CHECKPOINT_NAME):
        sibling = path.parent / name
        if sibling.is_file() and sibling.resolve() != path.resolve():
            return f"use another checkpoint, e.g. {sibling}"
    return "use another checkpoint"


def check_arch(ckpt: dict, path: str | os.PathLike, expected_arch: str | None) -> None:
    """Refuse a checkpoint whose ``arch`` is not ``expected_arch`` (None, or no arch saved: anything goes)."""
    if expected_arch is not None and ckpt.get("arch") not in (None, expected_arch):
        raise UserError(f"checkpoint {path} is for architecture {ckpt.get('arch')!r}, but this run builds "
                        f"{expected_arch!r}; pass the flags that build {ckpt.get('arch')!r} or another checkpoint")


def read_position(path: str | os.PathLike, flag: str | None = "--resume") -> dict:
    """A checkpoint's ``epoch``, ``step`` and ``arch``, without reading its tensors.

    The file is checked exactly as :func:`load_checkpoint` checks it (a damaged file is one line);
    the tensors are only memory-mapped, so this costs the CRC pass, not a load.  Checkpoints in
    torch's legacy (non-zip) format, which cannot be mapped, are loaded whole.
    """
    path = require_checkpoint(path, flag)
    with open(path, "rb") as fh:
        zipped = fh.read(4) == b"PK\x03\x04"
    ckpt = load_checkpoint(path, flag=flag, mmap=zipped)
    return {"epoch": int(ckpt.get("epoch") or 0), "step": int(ckpt.get("step") or 0), "arch": ckpt.get("arch")}


class _Damaged(Exception):
    """What is wrong with a checkpoint file, as the end of a sentence that starts with its name."""


_VERIFIED: dict[tuple, None] = {}  # (device, inode, size, mtime) of files whose CRCs passed, newest last


def _verify_once(path: Path) -> None:
    """:func:`verify_checksums`, skipped for a file that passed unchanged (a resume reads its checkpoint twice)."""
    st = path.stat()
    key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    if key in _VERIFIED:
        return
    verify_checksums(path)
    _VERIFIED[key] = None
    while len(_VERIFIED) > 16:
        del _VERIFIED[next(iter(_VERIFIED))]


def verify_checksums(path: str | os.PathLike) -> None:
    """Check every record of a zip-format checkpoint against its CRC-32; raises ``_Damaged``.

    The content hash: ``torch.save`` writes a zip archive whose directory holds a CRC-32 of
    every record (the pickled dict and each tensor's bytes), and ``torch.load`` never checks
    them, so a few changed bytes load as changed weights.  This adds one read of the file (the
    load then reads it from the page cache) and a CRC-32 pass: about half a ``torch.load``.
    Files without checksums (torch's legacy format) pass unchecked.
    """
    with open(path, "rb") as fh:
        if fh.read(4) != b"PK\x03\x04":
            return  # torch's legacy (non-zip) format, or not a checkpoint: torch.load judges it
        size = fh.seek(0, os.SEEK_END)
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if all(info.CRC == 0 for info in infos):
                return  # saved with torch's compute_crc32 off: nothing to check
            bad = archive.testzip()  # reads every record, compares its CRC-32 (and its header)
    except zipfile.BadZipFile as err:
        if str(err) == "File is not a zip file":  # no end-of-directory record
            raise _Damaged(f"is incomplete ({size:,} bytes): the zip directory that ends every checkpoint is "
                           "missing, so the save or copy that wrote it was cut off") from None
        raise _Damaged(f"is damaged ({err})") from None
    except (OSError, EOFError, ValueError, NotImplementedError) as err:
        raise _Damaged(f"is damaged ({type(err).__name__}: {err})") from None
    if bad is not None:
        raise _Damaged(f"is damaged: its record {bad!r} does not match the CRC-32 (or header) saved with it")


def state_dict_of(ckpt: dict) -> dict:
    """The model weights of a checkpoint, or of a bare state_dict file."""
    state = ckpt.get("state_dict", ckpt)
    # Weights saved from a DDP-wrapped model carry a 'module.' prefix.
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def load_model_weights(model: torch.nn.Module, ckpt: dict, path: str | os.PathLike, strict: bool = True) -> None:
    """``model.load_state_dict`` with a clear error when the shapes/keys do not match."""
    try:
        model.load_state_dict(state_dict_of(ckpt), strict=strict)
    except (RuntimeError, TypeError, AttributeError, KeyError, ValueError) as err:  # e.g. weights that are no dict
        detail = str(err).strip().splitlines() or [type(err).__name__]
        hint = detail[1].strip() if len(detail) > 1 else detail[0]
        raise UserError(f"checkpoint {path} does not fit this model ({hint[:200]}); "
                        "it was saved from another architecture or configuration") from None
