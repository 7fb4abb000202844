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
from pathlib import Path
from typing import Any

import torch

from .errors import UserError
from .io import atomic_write

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
                    flag: str = "--resume") -> dict:
    """Load a checkpoint with ``weights_only=True``; every failure is one actionable line.

    ``map_location`` defaults to the CPU so checkpoints saved on a GPU load anywhere;
    ``flag`` names the command-line flag that gave the path, for the error messages.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path} (check the path given to {flag})")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except OSError as err:  # unreadable, or a truncated zip archive
        raise UserError(f"checkpoint {path} given to {flag} cannot be read ({err.strerror or err}); "
                        "check its permissions, or use another file, e.g. models/model_best.pth.tar") from None
    except Exception as err:  # noqa: BLE001 - whatever a damaged file makes the unpickler raise
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"checkpoint {path} given to {flag} is corrupt or not a PyTorch checkpoint "
                        f"({first[:160]}); use another file, e.g. models/model_best.pth.tar of the same run") from None
    if not isinstance(ckpt, dict):
        raise UserError(f"checkpoint {path} holds a {type(ckpt).__name__}, not a checkpoint dict")
    if expected_arch is not None and ckpt.get("arch") not in (None, expected_arch):
        raise UserError(f"checkpoint {path} is for architecture {ckpt.get('arch')!r}, but this run builds "
                        f"{expected_arch!r}; pass the flags that build {ckpt.get('arch')!r} or another checkpoint")
    return ckpt


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
