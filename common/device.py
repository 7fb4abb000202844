"""Device, precision and seeding, decided once per run.

``--device auto`` picks CUDA, then Apple MPS, then the CPU.  Mixed precision is a
property of the device: bf16 autocast where the GPU supports it, else fp16 with a
GradScaler; on the CPU (or with ``--no-amp``) the autocast context is a no-op so the
same training code runs everywhere.
"""
from __future__ import annotations

import contextlib
import os
import random
from dataclasses import dataclass

import numpy as np
import torch

from .errors import UserError


def resolve_device(name: str = "auto") -> torch.device:
    """Turn a ``--device`` string into a usable ``torch.device`` (or a UserError)."""
    name = (name or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"--device {name!r} is not a device; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"--device {name} asked for CUDA but no CUDA GPU is visible; use --device cpu")
        index = 0 if device.index is None else device.index
        if index >= torch.cuda.device_count():
            raise UserError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) are visible")
        return torch.device("cuda", index)
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UserError("--device mps asked for Apple MPS but it is not available; use --device cpu")
    if device.type not in {"cpu", "cuda", "mps"}:
        raise UserError(f"--device {name}: unsupported device type {device.type!r}")
    return device


@dataclass(frozen=True)
class Precision:
    """What mixed precision means on this device.

    ``dtype`` is None when autocast is off (CPU, MPS, or ``--no-amp``);
    ``use_scaler`` is True only for fp16, which needs loss scaling.
    """

    device: torch.device
    dtype: torch.dtype | None

    @property
    def enabled(self) -> bool:
        return self.dtype is not None

    @property
    def use_scaler(self) -> bool:
        return self.dtype == torch.float16

    @property
    def name(self) -> str:
        return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.dtype]

    def autocast(self):
        """Autocast context for forward passes; a no-op when AMP is off."""
        if not self.enabled:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def make_scaler(self) -> "torch.amp.GradScaler":
        """A GradScaler that is active only for fp16 (disabled scalers pass through)."""
        return torch.amp.GradScaler(self.device.type, enabled=self.use_scaler)


def choose_precision(device: torch.device, amp: bool = True) -> Precision:
    """bf16 where the CUDA GPU supports it, else fp16; fp32 on CPU/MPS or with amp=False."""
    if not amp or device.type != "cuda":
        return Precision(device, None)
    with torch.cuda.device(device):
        bf16 = torch.cuda.is_bf16_supported()
    return Precision(device, torch.bfloat16 if bf16 else torch.float16)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices). Called by entry points, never at import."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))


def seed_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: derive python/numpy seeds from torch's per-worker seed."""
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work; only CUDA has anything to wait for (the course code crashed here on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def capture_rng_state() -> dict:
    """All RNG states as plain Python/tensor objects (loadable with ``weights_only=True``)."""
    np_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    """Inverse of :func:`capture_rng_state`; missing entries are left as they are."""
    if "python" in state:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
    if "numpy" in state:
        kind, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    if "torch" in state:
        torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = state["cuda"][: torch.cuda.device_count()]
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda_states])
