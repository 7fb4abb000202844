"""Host syncs: the operations after which the CPU waits for the GPU, counted on any device.

A CUDA GPU runs the kernels the host queues; the host only waits when it needs a result
(a number, a size, a copy).  Each such wait drains the queue, so the host stops running
ahead and the GPU idles while the next kernels are launched.  A training step should make
none between logging points (DESIGN.md).  :class:`SyncCounter` counts them while code runs
on CPU tensors too, which is how the tests check every entry script without a GPU:

* aten ops whose CUDA implementation blocks the host (seen by a ``TorchDispatchMode``):
  ``_local_scalar_dense`` (``item()``, ``bool()``/``float()``/``int()`` of a tensor, ``if t:``),
  ``is_nonzero``, ``equal``, ``allclose``, ``nonzero`` (``argwhere``), ``masked_select``, ``unique*``,
  ``bincount``, ``histc``, ``repeat_interleave`` without ``output_size``, ``_linalg_check_errors``
  (``torch.linalg.inv`` and friends), and ``index``/``index_put_`` with a boolean mask;
* Python calls that read device memory on the host or copy with a stream sync (intercepted,
  main thread only): ``.cpu()``, ``.tolist()``, ``.numpy()``, ``.to(device)``/``.cuda()`` without
  ``non_blocking=True`` (a copy without it synchronises the stream, in either direction), a
  tensor built from Python data *on a device* (``torch.tensor(data, device=d)``,
  ``torch.as_tensor``/``asarray``/``new_tensor`` of non-tensor data: a blocking host-to-device copy),
  and ``torch.cuda.synchronize``.

On a CPU run the counter cannot know where a tensor would live on a GPU, so the rules are
about the code, not the device: a device move must say ``non_blocking=True`` (from pinned
memory or already on the device), constants are made once, not per step.  The 0-d ``step``
counters of torch's optimizers live on the host by design (``capturable=False``): pass them
as ``host_tensors`` and their ``item()`` is not counted.

:func:`count_training_syncs` counts per training step of :class:`common.engine.Trainer`
(steps that log, every ``print_freq``, may sync and are marked as such).
"""
from __future__ import annotations

import collections
import contextlib
import os
import sys
import threading
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import torch
from torch.utils._python_dispatch import TorchDispatchMode

_aten = torch.ops.aten
_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
SYNCING_OPS = {
    _aten._local_scalar_dense: "item()/bool()/float() of a tensor",
    _aten.is_nonzero: "bool() of a tensor",
    _aten.equal: "torch.equal",
    _aten.allclose: "torch.allclose",
    _aten.nonzero: "nonzero()",
    _aten.nonzero_numpy: "nonzero(as_tuple=True)",
    _aten.masked_select: "masked_select",
    _aten._unique: "unique",
    _aten._unique2: "unique",
    _aten.unique_dim: "unique(dim=)",
    _aten.unique_consecutive: "unique_consecutive",
    _aten.bincount: "bincount",
    _aten.histc: "histc",
    _aten._linalg_check_errors: "linalg error check (e.g. torch.linalg.inv)",
}
MASK_INDEXED = {_aten.index, _aten.index_put_, _aten._index_put_impl_, _aten.index_put}


def _is_mask(t) -> bool:
    return isinstance(t, torch.Tensor) and t.dtype in (torch.bool, torch.uint8)


class SyncCounter(TorchDispatchMode):
    """``with SyncCounter() as c: ...`` -> ``c.counts`` (reason -> number) and ``c.total``.

    ``pause()``/``resume()`` switch counting off and on without leaving the mode.
    ``host_tensors()`` returns tensors that live on the host by design (see the module docstring).
    """

    def __init__(self, host_tensors: Callable[[], Iterable[torch.Tensor]] | None = None, active: bool = True):
        super().__init__()
        self.host_tensors, self.active = host_tensors, active
        self.counts: collections.Counter = collections.Counter()
        self.where: collections.Counter = collections.Counter()  # (reason, first caller outside torch) -> number
        self._owner = threading.get_ident()
        self._patches = contextlib.ExitStack()

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def pause(self) -> None:
        self.active = False

    def resume(self) -> None:
        self.active = True

    def take(self) -> collections.Counter:
        """The counts so far, and start again from zero."""
        counts, self.counts = self.counts, collections.Counter()
        return counts

    def _count(self, reason: str) -> None:
        if self.active and threading.get_ident() == self._owner:
            self.counts[reason] += 1
            self.where[(reason, _caller())] += 1

    def _count_call(self, reason: str) -> None:
        """A Python-level call: counted when our code made it.  torch's own calls (an optimizer's or
        ``clip_grad_norm_``'s ``.to(device)`` of a tensor already there) are no-ops on the device, and
        whatever really syncs inside torch shows up as an aten op above."""
        caller = sys._getframe(2).f_code.co_filename
        if _TORCH_DIR not in caller:
            self._count(reason)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        packet = func.overloadpacket
        if packet in SYNCING_OPS:
            if not (packet is _aten._local_scalar_dense and self._on_host(args[0])):
                self._count(SYNCING_OPS[packet])
        elif packet is _aten.repeat_interleave and kwargs.get("output_size") is None and isinstance(
                args[0], torch.Tensor) and not (len(args) > 1 and isinstance(args[1], int)):
            self._count("repeat_interleave without output_size")
        elif packet in MASK_INDEXED and len(args) > 1 and any(_is_mask(t) for t in (args[1] or [])):
            self._count("boolean-mask indexing")
        return func(*args, **kwargs)

    def _on_host(self, tensor: torch.Tensor) -> bool:
        if self.host_tensors is None:
            return False
        return any(t.data_ptr() == tensor.data_ptr() for t in self.host_tensors())

    # ------------------------------------------------------------ Python-level reads and copies
    def __enter__(self):
        self._patch(torch.Tensor, "cpu", lambda orig: self._always(orig, ".cpu()"))
        self._patch(torch.Tensor, "tolist", lambda orig: self._always(orig, ".tolist()"))
        self._patch(torch.Tensor, "numpy", lambda orig: self._always(orig, ".numpy()"))
        self._patch(torch.Tensor, "to", self._wrap_to)
        self._patch(torch.Tensor, "cuda", self._wrap_cuda)
        self._patch(torch.Tensor, "new_tensor", lambda orig: self._from_data(orig, ".new_tensor", method=True))
        for name in ("tensor", "as_tensor", "asarray"):
            self._patch(torch, name, lambda orig, name=name: self._from_data(orig, f"torch.{name}"))
        self._patch(torch.cuda, "synchronize", lambda orig: self._always(orig, "torch.cuda.synchronize"))
        return super().__enter__()

    def __exit__(self, *exc):
        try:
            return super().__exit__(*exc)
        finally:
            self._patches.close()

    def _patch(self, owner, name: str, make: Callable) -> None:
        original = getattr(owner, name)
        setattr(owner, name, make(original))
        self._patches.callback(setattr, owner, name, original)

    def _always(self, original, reason: str):
        def wrapper(*args, **kwargs):
            self._count_call(reason)
            return original(*args, **kwargs)
        return wrapper

    def _wrap_to(self, original):
        def to(tensor, *args, **kwargs):
            first = args[0] if args else kwargs.get("device")
            if isinstance(first, (str, torch.device, int)) and not isinstance(first, bool):
                blocking = not (kwargs.get("non_blocking") or (len(args) > 2 and args[2] is True))
                if blocking:
                    self._count_call(".to(device) without non_blocking=True")
            return original(tensor, *args, **kwargs)
        return to

    def _wrap_cuda(self, original):
        def cuda(tensor, *args, **kwargs):
            if not kwargs.get("non_blocking"):
                self._count_call(".cuda() without non_blocking=True")
            return original(tensor, *args, **kwargs)
        return cuda

    def _from_data(self, original, name: str, method: bool = False):
        """``torch.tensor(data, device=d)`` and kin (``x.new_tensor(data)`` lands on x's device): Python data
        copied to a device with a sync; a tensor passed in is a move, left to the ``.to`` rule."""
        def build(*args, **kwargs):
            data = args[1 if method else 0] if len(args) > (1 if method else 0) else kwargs.get("data")
            if (method or kwargs.get("device") is not None) and data is not None and not isinstance(data, torch.Tensor):
                self._count_call(f"{name}(python data, device=...): blocking host-to-device copy")
            return original(*args, **kwargs)
        return build


def _caller() -> str:
    """``file:line`` of the innermost frame outside torch and this module: where a sync comes from."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if _TORCH_DIR not in name and name != __file__:
            return f"{os.path.relpath(name)}:{frame.f_lineno}"
        frame = frame.f_back
    return "?"


@dataclass
class StepSyncs:
    """The syncs of one training step: ``epoch`` (0-based), ``step`` (1-based in the epoch), whether it logged."""

    epoch: int
    step: int
    logging: bool
    counts: collections.Counter

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class _CountedEpoch:
    """The engine's epoch iterable, counting syncs per step.

    A step runs from the request for its batch to the request for the next one.  A
    ``torch.utils.data.DataLoader`` works on the host by construction (its CPU tensors
    cross in ``move_to``, non-blocking), so its ``next()`` is not counted; a device-resident
    loader's is (it indexes and augments on the device).
    """

    def __init__(self, batches, counter: SyncCounter, *, host_loader: bool, epoch: int, first_step: int,
                 print_freq: int, records: list):
        self.batches, self.counter, self.host = batches, counter, host_loader
        self.epoch, self.step, self.print_freq, self.records = epoch, first_step, print_freq, records

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        it = iter(self.batches)
        while True:
            self.counter.take()
            if not self.host:
                self.counter.resume()
            try:
                batch = next(it)
            except StopIteration:
                self.counter.pause()
                return
            self.counter.resume()
            yield batch
            self.counter.pause()
            self.step += 1
            self.records.append(StepSyncs(self.epoch, self.step, self.step % self.print_freq == 0,
                                          self.counter.take()))


@contextlib.contextmanager
def count_training_syncs() -> Iterator[list[StepSyncs]]:
    """``with count_training_syncs() as steps: trainer.fit()``: one :class:`StepSyncs` per training step.

    Works for any entry script that trains with :class:`common.engine.Trainer` (it wraps the
    engine's epoch iterable); everything outside the training steps (validation, checkpoints,
    logging at the end of an epoch) is not counted.
    """
    from torch.utils.data import DataLoader

    from .engine import Trainer

    records: list[StepSyncs] = []
    original = Trainer._epoch_batches
    counter = SyncCounter(active=False)

    def epoch_batches(self, loader, epoch: int, skip: int = 0):
        optimizer = self.optimizer
        counter.host_tensors = lambda: _optimizer_step_counters(optimizer)
        return _CountedEpoch(original(self, loader, epoch, skip), counter, host_loader=isinstance(loader, DataLoader),
                             epoch=epoch, first_step=skip, print_freq=self.cfg.print_freq, records=records)

    Trainer._epoch_batches = epoch_batches
    try:
        with counter:
            yield records
    finally:
        Trainer._epoch_batches = original


def _optimizer_step_counters(optimizer) -> list[torch.Tensor]:
    """The 0-d ``step`` tensors torch's optimizers keep on the host (``capturable=False``)."""
    steps = []
    for state in optimizer.state.values():
        step = state.get("step") if isinstance(state, dict) else None
        if isinstance(step, torch.Tensor) and step.device.type == "cpu":
            steps.append(step)
    return steps
