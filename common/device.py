"""Device, precision and seeding, decided once per run.

``--device auto`` picks CUDA, then Apple MPS, then the CPU.  Mixed precision is a
property of the device: bf16 autocast where the GPU supports it, else fp16 with a
GradScaler; on the CPU (or with ``--no-amp``) the autocast context is a no-op so the
same training code runs everywhere.

TF32 policy (Ampere and newer NVIDIA GPUs, where float32 matmuls and convolutions can run
on tensor cores with a 10-bit mantissa):

* training: :func:`set_tf32` from the engine flag ``--tf32/--no-tf32``, default **on** for
  both matmuls and cuDNN convolutions (PyTorch's own default is on for cuDNN only, so a
  model's linear and conv layers would differ in precision); applied on CUDA runs only;
* comparing two kernels (Linear vs Conv1d, custom vs cuDNN conv, batched vs one-by-one):
  inside :func:`exact_fp32`, which turns TF32 off for both and restores the previous
  settings on exit.  cuDNN's TF32 default made Linear and Conv1d(k=1) differ by 7e-4 on an
  H200 (0.0 without TF32); tests/test_tf32_policy.py checks that every comparison uses it.
"""
from __future__ import annotations

import contextlib
import functools
import os
import random
import shutil
import sysconfig
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


def normalize_device(device: str | torch.device, current_cuda: int | None = None) -> torch.device:
    """``device`` as tensors report it: ``cuda`` -> ``cuda:<current device>``, ``mps`` -> ``mps:0``.

    ``torch.device("cuda") != torch.device("cuda:0")``, yet a tensor made on the first is on
    the second: compare devices only after this.  ``current_cuda`` (default: CUDA's current
    device) makes it a pure function for tests.
    """
    device = torch.device(device)
    if device.index is not None or device.type == "cpu":
        return device
    if device.type == "cuda":
        return torch.device("cuda", torch.cuda.current_device() if current_cuda is None else current_cuda)
    return torch.device(device.type, 0)


def same_device(a: str | torch.device, b: str | torch.device, current_cuda: int | None = None) -> bool:
    """Whether two device names mean the same device (``cuda`` and ``cuda:0`` do, on GPU 0)."""
    return normalize_device(a, current_cuda) == normalize_device(b, current_cuda)


def to_device_async(tensor: torch.Tensor, device: str | torch.device) -> torch.Tensor:
    """A host tensor on ``device`` without a stream sync: copied from pinned memory on CUDA (a copy from
    pageable memory, or one without ``non_blocking``, makes the host wait for the GPU); a no-op on the CPU."""
    device = torch.device(device)
    if device.type == "cuda" and tensor.device.type == "cpu" and not tensor.is_pinned():
        tensor = tensor.pin_memory()
    return tensor.to(device, non_blocking=True)


def device_constant(values, device: str | torch.device, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A small constant tensor (nested Python numbers) on ``device``, made once per (values, device, dtype).

    ``torch.tensor(values, device=cuda)`` copies from the host with a stream sync every call;
    per-step constants come from here instead.  Do not modify the result in place.
    """
    return _cached_constant(_frozen(values), normalize_device(device), dtype)


def _frozen(values):
    return tuple(_frozen(v) for v in values) if isinstance(values, (list, tuple)) else float(values)


@functools.lru_cache(maxsize=256)
def _cached_constant(values, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    return to_device_async(torch.tensor(values, dtype=dtype), device)


# ------------------------------------------------------------------------------ TF32 policy
def tf32_state() -> tuple[str, bool]:
    """(float32 matmul precision, cuDNN TF32 flag): what :func:`exact_fp32` saves and restores."""
    return torch.get_float32_matmul_precision(), bool(torch.backends.cudnn.allow_tf32)


def set_tf32(enabled: bool) -> None:
    """TF32 for float32 matmuls and cuDNN convolutions, both on or both off (the training policy)."""
    torch.set_float32_matmul_precision("high" if enabled else "highest")
    torch.backends.cudnn.allow_tf32 = enabled


@contextlib.contextmanager
def exact_fp32():
    """Full float32 precision for matmuls and cuDNN convolutions inside, the previous settings after.

    For comparing two kernels (also usable as a decorator: ``@exact_fp32()``).
    """
    before = tf32_state()
    set_tf32(False)
    try:
        yield
    finally:
        restore_tf32(before)


def restore_tf32(state: tuple[str, bool]) -> None:
    """Put back what :func:`tf32_state` returned."""
    torch.set_float32_matmul_precision(state[0])
    torch.backends.cudnn.allow_tf32 = state[1]


# ---------------------------------------------------------------------------- torch.compile
def compile_problem(backend: str, device: torch.device) -> str | None:
    """Why ``torch.compile(backend=...)`` cannot work here (one line), or None when it can."""
    if not callable(getattr(torch, "compile", None)):
        return f"this torch build ({torch.__version__}) has no torch.compile; drop --compile"
    try:
        import torch._dynamo as dynamo
    except ImportError as err:
        return f"torch.compile is not usable in this torch build ({err}); drop --compile"
    if not dynamo.is_dynamo_supported():
        return f"torch.compile does not support this Python/platform (torch {torch.__version__}); drop --compile"
    if backend != "inductor":
        return None
    # Inductor compiles C++ (CPU kernels; the host side of Triton's GPU kernels) against Python's headers.
    compiler = next((c for c in (os.environ.get("CXX"), "g++", "clang++", "c++") if c and shutil.which(c)), None)
    if compiler is None:
        return ("--compile (inductor) needs a C++ compiler (g++/clang++ or $CXX) and none was found; install one, "
                "or use --compile aot_eager (no code generation), or drop --compile")
    if not os.path.isfile(os.path.join(sysconfig.get_paths()["include"], "Python.h")):
        return ("--compile (inductor) needs Python's C headers (Python.h; the python3-dev package) and they are "
                "missing; install them, or use --compile aot_eager, or drop --compile")
    if device.type == "cuda":
        try:
            from torch.utils._triton import has_triton
        except ImportError:
            return None  # a torch without the probe: let torch.compile say it
        if not has_triton():
            return "--compile (inductor) on CUDA needs Triton (pip install triton); or use --compile aot_eager"
    return None


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
    """DataLoader ``worker_init_fn``: derive python/numpy seeds from torch's per-worker seed; leave the
    terminal's process group.

    A terminal's Ctrl-C, ``kill -TERM -PGID`` or a batch system's preemption signals the whole
    process group; torch's worker handler ends a worker on a SIGTERM its parent did not send, which
    failed the step the main process was finishing before its checkpoint.  In a group of its own the
    worker hears only its parent, which stops cleanly and shuts its workers down (a worker whose
    parent dies exits by itself).  Ignoring SIGTERM instead would hang every exit that leaves an
    iterator alive: multiprocessing's exit handler stops workers with SIGTERM and waits for them.
    """
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)
    if hasattr(os, "setpgid"):
        os.setpgid(0, 0)


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
