"""The one training loop every assignment uses.

Assignment code supplies a model, an optimizer, loaders and, when plain
classification is not what it trains, a *step function*::

    def step_fn(model, batch) -> StepResult   # batch already on the device

returning the loss to back-propagate plus (optionally) logits/targets for top-k
accuracy and extra per-sample sums to average (e.g. reconstruction error).  The
engine owns everything else: AMP, gradient clipping, the per-iteration LR schedule
(``EngineConfig.schedule``, warmup+cosine by default), device-side meters, tqdm,
TensorBoard, checkpoints every epoch and on SIGINT/SIGTERM, best-model tracking, exact
resume, DDP and non-finite-loss checks.
"""
from __future__ import annotations

import contextlib
import itertools
import math
import os
import signal
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checkpoint import load_checkpoint, load_model_weights, plain_args, save_checkpoint
from .device import capture_rng_state, restore_rng_state
from .distributed import all_reduce_max
from .errors import Interrupted, UserError
from .meters import MetricSums, topk_correct
from .modules import eval_mode, unwrap
from .progress import progress
from .rundir import RunDir
from .runctx import RunContext, describe_position, resume_command
from .schedule import WARMUP_COSINE, Schedule
from .signals import (in_main_thread, install_handlers, redeliver_dropped_stops, restore_handlers, signal_notice,
                      stop_state)


@dataclass
class StepResult:
    """What a step function returns. ``sums`` are per-batch *sums* of per-sample values."""

    loss: torch.Tensor
    logits: torch.Tensor | None = None
    targets: torch.Tensor | None = None
    batch_size: int | None = None
    sums: dict[str, torch.Tensor] = field(default_factory=dict)


StepFn = Callable[[nn.Module, Any], StepResult]


def classification_step(model: nn.Module, batch) -> StepResult:
    """Default step: ``batch = (inputs, labels)``, cross-entropy on the logits."""
    inputs, targets = batch[0], batch[1]
    logits = model(inputs)
    return StepResult(F.cross_entropy(logits, targets), logits, targets)


@dataclass
class EngineConfig:
    epochs: int = 1
    warmup_epochs: float = 0.0
    clip_grad: float | None = None     # max global grad norm; None/<=0 disables
    print_freq: int = 10               # steps between host syncs / log lines
    quiet: bool = False
    topk: tuple[int, ...] = (1, 5)
    monitor: str = "acc1"              # validation metric that picks model_best
    monitor_mode: str = "max"          # "max" or "min"
    channels_last: bool = False        # a script's hint, honoured on CUDA only (--channels-last: every device)
    schedule: Schedule = WARMUP_COSINE  # step -> LR factor over warmup_epochs/epochs (common/schedule.py)


def move_to(batch, device: torch.device, channels_last: bool = False):
    """Recursively move tensors to ``device`` (non_blocking from pinned memory)."""
    if torch.is_tensor(batch):
        batch = batch.to(device, non_blocking=True)
        if channels_last and batch.ndim == 4 and batch.is_floating_point():
            batch = batch.contiguous(memory_format=torch.channels_last)
        return batch
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to(b, device, channels_last) for b in batch)
    if isinstance(batch, dict):
        return {k: move_to(v, device, channels_last) for k, v in batch.items()}
    return batch


class StopRequested(SystemExit):
    """Raised after a graceful-stop checkpoint; exit status 128 + signal number."""


class _SignalCatcher:
    """First SIGINT/SIGTERM/SIGHUP sets a flag (finish the step, save, exit); a second one aborts the step
    (:class:`common.errors.Interrupted`; the last checkpoint stays as it was), except while the stop's own
    checkpoint is being written.  In a forked DataLoader worker the handler does nothing: a Ctrl-C sent to
    the whole process group must not kill the workers the step still needs."""

    def __init__(self, last_checkpoint: Callable[[], Any] = lambda: None):
        self.signum: int | None = None
        self.saving = False  # the graceful stop's checkpoint is being written: let it finish
        self._last = last_checkpoint
        self._old: dict[int, Any] = {}
        self._redeliver = contextlib.ExitStack()
        self._pid = os.getpid()

    def __enter__(self):
        if in_main_thread():
            # SIGHUP too: `tmux kill-session` and closed SSH terminals send it.
            stop_state.stopping = False
            self._old = install_handlers(self._handle)
            self._redeliver.enter_context(redeliver_dropped_stops())
        return self

    def _handle(self, signum, frame):
        if os.getpid() != self._pid:
            return
        name = signal.Signals(signum).name
        if self.signum is None:
            self.signum = signum
            signal_notice(f"\n[signal {name}] finishing the current step, then saving a checkpoint "
                           "(send again to abort)")
        elif not (self.saving or stop_state.stopping):
            stop_state.stopping = True
            last = self._last()
            kept = f"the last checkpoint, {last}, is as it was" if last else "no checkpoint was saved by this run"
            raise Interrupted(signum, f"a second signal aborted the step; nothing of it was saved ({kept})")

    def __exit__(self, *exc):
        if self.signum is not None:
            stop_state.stopping = True  # the graceful stop is on its way out: later signals are ignored
        restore_handlers(self._old)
        self._redeliver.close()
        return False


class Trainer:
    """Train/evaluate one model; see the module docstring for the division of labour.

    ``ctx`` (a :class:`common.runctx.RunContext`, e.g. from :func:`common.cli.run_context`)
    gives the device, precision, DDP membership and run directory; ``run`` overrides the
    directory (one per stage).  ``model_config`` (plain values) is stored in every
    checkpoint, so a script that only has the checkpoint can rebuild the model.

    ``epoch_metrics_fn(record) -> dict`` adds derived metrics (e.g. perplexity from the
    loss) to each epoch's record before it is logged, checkpointed and used for model_best.

    ``eval_step_fn`` defaults to ``step_fn`` (an autoencoder evaluates with the loss it
    trains with).  A training step that augments or perturbs its inputs must pass a
    clean ``eval_step_fn`` (e.g. :func:`classification_step`), or the augmentation leaks
    into validation and model selection.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, train_loader, val_loader=None, *,
                 ctx: RunContext | None = None, run: RunDir | None = None, cfg: EngineConfig | None = None,
                 step_fn: StepFn | None = None, eval_step_fn: StepFn | None = None, arch: str = "model",
                 args: Any = None, model_config: dict | None = None,
                 epoch_metrics_fn: Callable[[dict[str, float]], dict[str, float]] | None = None):
        ctx = ctx or RunContext.local()
        self.cfg = cfg or EngineConfig()
        self.device, self.precision, self.dist = ctx.device, ctx.precision, ctx.dist
        self.run = run if run is not None else ctx.run
        self.arch, self.model_config = arch, model_config
        if ctx.channels_last and not any(isinstance(m, nn.Conv2d) for m in model.modules()):
            raise UserError(f"--channels-last changes the memory layout of 2-D convolutions' inputs, and "
                            f"{type(model).__name__} has no nn.Conv2d: it would change nothing; drop --channels-last")
        self.channels_last = ctx.channels_last or (self.cfg.channels_last and self.device.type == "cuda")
        self.compile = ctx.compile
        self._first_calls = {"training step", "evaluation batch"} if self.compile else set()
        self.model = self._prepare_model(model)
        self.optimizer = optimizer
        self.train_loader, self.val_loader = train_loader, val_loader
        self.step_fn = step_fn or classification_step
        self.eval_step_fn = eval_step_fn or self.step_fn
        self.args = plain_args(args) if args is not None else {}
        self.scaler = self.precision.make_scaler()
        steps_per_epoch = max(1, len(train_loader)) if train_loader is not None else 1
        self.steps_per_epoch = steps_per_epoch
        self.scheduler = self.cfg.schedule.lambda_lr(optimizer, int(round(self.cfg.warmup_epochs * steps_per_epoch)),
                                                     self.cfg.epochs * steps_per_epoch)
        self.start_epoch, self.start_step = 0, 0
        self.best_metric: float | None = None
        self.history: list[dict[str, float]] = []
        self._resume_meters: dict | None = None
        self._last_good: Path | str | None = None  # newest checkpoint known to hold finite state
        self.epoch_metrics_fn = epoch_metrics_fn

    # ----------------------------------------------------------------- setup
    def _prepare_model(self, model: nn.Module) -> nn.Module:
        model = model.to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            model = nn.parallel.DistributedDataParallel(model, device_ids=ids)
        if self.compile:  # compiles lazily, at the first call (timed by _first_call)
            model = torch.compile(model, backend=self.compile)
        return model

    def _first_call(self, what: str) -> float | None:
        """With --compile, the first training step and evaluation batch compile: their start time, else None."""
        return time.perf_counter() if what in self._first_calls else None

    def _first_call_done(self, what: str, start: float | None) -> None:
        if start is not None:  # host time: compiling runs on the host, before the kernels are queued
            self._first_calls.discard(what)
            self.log(f"torch.compile ({self.compile}): the first {what} took {time.perf_counter() - start:.1f} s "
                     "(compilation included; later calls reuse the compiled code)")

    @property
    def module(self) -> nn.Module:
        """The bare model (without torch.compile and DDP wrappers): what checkpoints store."""
        return unwrap(self.model)

    @property
    def epochs_done(self) -> float:
        """Training progress in epochs (optimizer steps / steps per epoch); restored by resume.

        The public clock for step functions whose behaviour follows the schedule
        (e.g. an epsilon ramped up over the first epochs).
        """
        return self.scheduler.last_epoch / self.steps_per_epoch

    def start_at(self, epoch: int) -> None:
        """Begin a fresh run at ``epoch`` with the LR schedule where it would be (``--start-epoch``)."""
        if not 0 <= epoch <= self.cfg.epochs:
            raise UserError(f"--start-epoch {epoch} is outside 0..{self.cfg.epochs} (--epochs)")
        self.start_epoch, self.start_step = epoch, 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "scheduler.step() before optimizer.step()" is intended here
            self.scheduler.last_epoch = epoch * self.steps_per_epoch - 1
            self.scheduler.step()

    def log(self, message: str) -> None:
        if self.dist.is_main and not self.cfg.quiet:
            print(message, flush=True)

    # ---------------------------------------------------------- checkpoints
    def state(self, epoch: int, step: int, meters: MetricSums | None = None) -> dict:
        return {"epoch": epoch, "step": step, "arch": self.arch, "state_dict": self.module.state_dict(),
                "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict(), "best_metric": self.best_metric, "args": self.args,
                "rng_state": capture_rng_state(), "history": self.history,
                "meters": meters.state_dict() if meters is not None else None,
                "model_config": self.model_config, "schedule": self._schedule()}

    def _schedule(self) -> dict:
        return {"steps_per_epoch": self.steps_per_epoch, "epochs": self.cfg.epochs,
                "warmup_epochs": self.cfg.warmup_epochs, "base_lrs": list(self.scheduler.base_lrs),
                **self.cfg.schedule.record()}

    def save(self, epoch: int, step: int, is_best: bool = False, meters: MetricSums | None = None) -> Path | None:
        """Checkpoint the state (after checking it is finite); returns the path written, if any."""
        self._check_weights(epoch if step else epoch - 1, step)
        if self.run is None or not self.run.writes:
            return None
        self._last_good = save_checkpoint(self.state(epoch, step, meters), self.run.models, is_best=is_best)
        return self._last_good

    def _diverged(self, what: str, epoch: int, step: int) -> UserError:
        """The error for a non-finite state at 0-based ``epoch`` after ``step`` steps (0: the epoch's end)."""
        where = f"epoch {epoch + 1} step {step}" if step else f"the end of epoch {epoch + 1}"
        kept = (f"the last finite checkpoint is {self._last_good}" if self._last_good
                else "no checkpoint was saved before it")
        return UserError(f"{what} at {where}: training diverged and this state was not saved "
                         f"({kept}); lower --lr, keep --clip-grad, or try --no-amp")

    def _check_weights(self, epoch: int, step: int) -> None:
        tensors = [t for t in self.module.state_dict().values() if t.is_floating_point()]
        if tensors and not bool(torch.stack([t.isfinite().all() for t in tensors]).all()):
            raise self._diverged("non-finite model weights", epoch, step)

    def resume(self, path: str | Path) -> None:
        """Restore weights, optimizer, scheduler, scaler, RNG, history and position."""
        ckpt = load_checkpoint(path, map_location=self.device, expected_arch=self.arch)
        epoch, step = int(ckpt.get("epoch") or 0), int(ckpt.get("step") or 0)
        if (epoch, step) > (self.cfg.epochs, 0):  # would train nothing and overwrite the run's metrics
            raise UserError(f"checkpoint {path} is {describe_position(epoch, step)}, past the end of this run's "
                            f"{self.cfg.epochs} epochs: nothing is left to train; ask for more epochs than {epoch}, "
                            "or start a new run")
        self._check_schedule(ckpt, path)
        load_model_weights(self.module, ckpt, path)
        try:
            if ckpt.get("optimizer"):
                self.optimizer.load_state_dict(ckpt["optimizer"])
            if ckpt.get("scheduler"):
                self.scheduler.load_state_dict(ckpt["scheduler"])
        except (ValueError, KeyError, RuntimeError) as err:
            raise UserError(f"checkpoint {path}: optimizer/scheduler state does not fit ({err}); "
                            "was it saved with another optimizer (e.g. SGD vs AdamW)?") from None
        if ckpt.get("scaler") and self.scaler.is_enabled():
            self.scaler.load_state_dict(ckpt["scaler"])
        if ckpt.get("rng_state"):
            restore_rng_state(ckpt["rng_state"])
        self.start_epoch, self.start_step = int(ckpt.get("epoch", 0)), int(ckpt.get("step", 0))
        self.best_metric = ckpt.get("best_metric")
        self.history = list(ckpt.get("history") or [])
        self._resume_meters = ckpt.get("meters")
        self._last_good = path
        where = f"epoch {self.start_epoch}" + (f", step {self.start_step}" if self.start_step else "")
        self.log(f"=> resumed {path}: continuing at {where}")

    def _check_schedule(self, ckpt: dict, path) -> None:
        """Refuse a resume whose batches per epoch, peak LR or schedule (name, parameters) differ: the
        restored position would silently mean something else.  Warn when --epochs/--warmup reshape the
        same schedule.  Checkpoints from before a field was recorded are not compared on it."""
        saved = ckpt.get("schedule")
        if not saved:  # checkpoints from before the schedule was recorded
            return
        mine = self._schedule()
        if saved["steps_per_epoch"] != mine["steps_per_epoch"]:
            raise UserError(f"checkpoint {path} has {saved['steps_per_epoch']} batches per epoch, this run "
                            f"{mine['steps_per_epoch']}: resume with the batch size and data of that run "
                            "(see its config.json), or start a new run with --init/--init-from style weights")
        if len(saved["base_lrs"]) != len(mine["base_lrs"]) or not all(
                math.isclose(a, b, rel_tol=1e-6) for a, b in zip(saved["base_lrs"], mine["base_lrs"])):
            raise UserError(f"checkpoint {path} was trained with peak learning rate(s) {saved['base_lrs']}, this run "
                            f"asks for {mine['base_lrs']}: resume with the run's learning rate (see its config.json)")
        for key in ("name", "params"):
            if key in saved and saved[key] != mine[key]:
                raise UserError(f"checkpoint {path} was trained with LR schedule {saved[key]}, this run builds "
                                f"{mine[key]}: resume with that run's schedule flags (see its config.json), or "
                                "start a new run")
        for key, flag in (("epochs", "--epochs"), ("warmup_epochs", "--warmup")):
            if saved[key] != mine[key] and self.dist.is_main:
                print(f"warning: resuming {path} with {flag} {mine[key]} instead of {saved[key]}: the LR "
                      "schedule changes from here on", file=sys.stderr, flush=True)

    # ------------------------------------------------------------- training
    def _epoch_batches(self, loader, epoch: int, skip: int = 0):
        """The batches of ``epoch`` after the first ``skip`` (see :class:`common.data.ResumableLoader`)."""
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(epoch, skip)
            return loader
        sampler = getattr(loader, "sampler", None)
        if isinstance(sampler, torch.utils.data.DistributedSampler):
            sampler.set_epoch(epoch)
        return itertools.islice(loader, skip, None)  # a plain loader: skip by iterating

    def _backward_step(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.cfg.clip_grad and self.cfg.clip_grad > 0:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.clip_grad)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()

    def _accumulate(self, meters: MetricSums, out: StepResult, batch) -> None:
        n = out.batch_size or (out.targets.shape[0] if out.targets is not None else _batch_len(batch))
        sums = {"loss": out.loss.detach().float() * n, "nonfinite": (~torch.isfinite(out.loss.detach())).float()}
        if out.logits is not None and out.targets is not None:
            sums.update(topk_correct(out.logits.detach(), out.targets, self.cfg.topk))
        sums.update(out.sums)
        meters.add(n, **sums)

    def _check_finite(self, meters: MetricSums, epoch: int, step: int) -> dict[str, float]:
        avg = meters.reduced().averages()
        if avg.pop("nonfinite", 0.0) > 0 or not math.isfinite(avg.get("loss", 0.0)):
            raise self._diverged("non-finite training loss", epoch, step)
        return avg

    def train_one_epoch(self, epoch: int, stopper: _SignalCatcher, skip: int = 0) -> dict[str, float] | None:
        """One epoch; returns averaged metrics, or None when a signal asked to stop."""
        self.model.train()
        meters = MetricSums(self.device)
        if skip and self._resume_meters:
            meters.load_state_dict(self._resume_meters)
        batches = self._epoch_batches(self.train_loader, epoch, skip)
        remaining = len(self.train_loader) - (skip if batches is not self.train_loader else 0)
        bar = progress(batches, desc=f"epoch {epoch}", quiet=self.cfg.quiet or not self.dist.is_main,
                       total=remaining, initial=0)
        step = skip
        for batch in bar:
            started = self._first_call("training step")
            batch = move_to(batch, self.device, self.channels_last)
            with self.precision.autocast():
                out = self.step_fn(self.model, batch)
            self._backward_step(out.loss)
            self._first_call_done("training step", started)
            self._accumulate(meters, out, batch)
            step += 1
            global_step = epoch * self.steps_per_epoch + step
            if step % self.cfg.print_freq == 0:
                avg = self._check_finite(meters, epoch, step)
                if self.run is not None:  # this iteration's loss, and the epoch's running mean
                    self.run.tb.add_scalar("train/loss_iter", out.loss.detach().float().item(), global_step)
                    self.run.tb.add_scalar("train/loss_running", avg["loss"], global_step)
                    self.run.tb.add_scalar("train/lr", self.optimizer.param_groups[0]["lr"], global_step)
                bar.set_postfix(_short(avg), refresh=False)
            if self._stop_requested(stopper, step):
                self._check_finite(meters, epoch, step)
                return self._graceful_stop(stopper, epoch, step, meters)
        avg = self._check_finite(meters, epoch, step)
        avg["lr"] = self.optimizer.param_groups[0]["lr"]
        return avg

    def _stop_requested(self, stopper: _SignalCatcher, step: int | None = None) -> bool:
        """Did a signal ask to stop? Under DDP every rank must stop at the same step, so the
        ranks agree by an all-reduce, only at sync points (every print_freq steps, epoch end)."""
        if not self.dist.enabled:
            return stopper.signum is not None
        if step is not None and step % self.cfg.print_freq:
            return False
        flag = torch.tensor(float(stopper.signum is not None), device=self.device)
        return bool(all_reduce_max(flag).item())

    def _graceful_stop(self, stopper: _SignalCatcher, epoch: int, step: int, meters: MetricSums):
        stopper.saving = True  # a second signal now would only cost the checkpoint it asked for
        path = self.save(epoch, step, meters=meters)
        signum = stopper.signum or signal.SIGTERM
        if self.dist.is_main:
            where = f"stopped by {signal.Signals(signum).name} at epoch {epoch} step {step}"
            if path is None:  # a Trainer without a run directory (tests, notebooks)
                print(f"{where}; no checkpoint was written (this trainer has no run directory)",
                      file=sys.stderr, flush=True)
            else:
                print(f"{where}; checkpoint: {path}\nresume with:\n  {resume_command(path)}",
                      file=sys.stderr, flush=True)
        raise StopRequested(128 + int(signum))

    @torch.no_grad()
    def evaluate(self, loader, step_fn: StepFn | None = None, desc: str = "eval") -> dict[str, float]:
        """Average loss/top-k (and extra sums) over ``loader`` with the model in eval mode."""
        step_fn = step_fn or self.eval_step_fn
        meters = MetricSums(self.device)
        with eval_mode(self.model):
            for batch in progress(loader, desc=desc, quiet=self.cfg.quiet or not self.dist.is_main):
                started = self._first_call("evaluation batch")
                batch = move_to(batch, self.device, self.channels_last)
                with self.precision.autocast():
                    out = step_fn(self.model, batch)
                self._first_call_done("evaluation batch", started)
                self._accumulate(meters, out, batch)
        avg = meters.reduced().averages()
        avg.pop("nonfinite", None)
        return avg

    def _is_better(self, value: float) -> bool:
        if self.best_metric is None:
            return True
        return value > self.best_metric if self.cfg.monitor_mode == "max" else value < self.best_metric

    def fit(self, stop_epoch: int | None = None) -> list[dict[str, float]]:
        """Train from ``start_epoch`` up to ``cfg.epochs`` (or stop early after ``stop_epoch``).

        Returns the per-epoch history (also stored in every checkpoint). The LR schedule
        always spans ``cfg.epochs``, so stopping early and resuming changes nothing.
        """
        last = self.cfg.epochs if stop_epoch is None else min(stop_epoch, self.cfg.epochs)
        with _SignalCatcher(lambda: self._last_good) as stopper:
            for epoch in range(self.start_epoch, last):
                skip, self.start_step = self.start_step, 0
                t0 = time.perf_counter()
                train = self.train_one_epoch(epoch, stopper, skip)
                self._check_weights(epoch, 0)  # before validation: name the cause, not its NaN val_loss
                record = {"epoch": epoch + 1, **{f"train_{k}": v for k, v in train.items()}}
                if self.val_loader is not None:
                    record.update({f"val_{k}": v for k, v in self.evaluate(self.val_loader).items()})
                record["epoch_seconds"] = time.perf_counter() - t0
                bad = [k for k, v in record.items() if k.startswith("val_") and not math.isfinite(v)]
                if bad:
                    raise self._diverged(f"non-finite {', '.join(bad)}", epoch, 0)
                self._end_epoch(epoch, record)
                if self._stop_requested(stopper):
                    self._graceful_stop(stopper, epoch + 1, 0, None)
        return self.history

    def _end_epoch(self, epoch: int, record: dict[str, float]) -> None:
        if self.epoch_metrics_fn is not None:  # derived metrics (e.g. perplexity) join the record
            record.update(self.epoch_metrics_fn(record))
        key = f"val_{self.cfg.monitor}" if f"val_{self.cfg.monitor}" in record else f"train_{self.cfg.monitor}"
        value = record.get(key)
        is_best = value is not None and self._is_better(value)
        if is_best:
            self.best_metric = value
        self.history.append(record)
        self.save(epoch + 1, 0, is_best=is_best)  # checks the weights first: only finite state is saved
        if self.run is not None:
            for name, val in record.items():
                if name != "epoch":
                    self.run.tb.add_scalar(name.replace("_", "/", 1), val, epoch + 1)
            self.run.tb.flush()
        self.log(f"epoch {epoch + 1}/{self.cfg.epochs} " + " ".join(
            f"{k}={v:.4g}" for k, v in record.items() if k != "epoch") + (" *best*" if is_best else ""))

    def final_metrics(self) -> dict[str, float]:
        """Flat metrics of the last epoch plus the best monitored value."""
        out = dict(self.history[-1]) if self.history else {}
        out.pop("epoch_seconds", None)
        out["epochs"] = out.pop("epoch", 0)
        out[f"best_val_{self.cfg.monitor}"] = self.best_metric
        return out


def _batch_len(batch) -> int:
    first = batch[0] if isinstance(batch, (list, tuple)) else batch
    return int(first.shape[0]) if torch.is_tensor(first) else len(first)


def _short(avg: dict[str, float]) -> dict[str, str]:
    return {k: f"{v:.3g}" for k, v in avg.items() if k in ("loss", "acc1", "acc5")}
