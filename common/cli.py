"""Flags every entry script shares, and the one call that turns them into a run context.

    parser = argparse.ArgumentParser(...)
    add_engine_args(parser)                  # --device --seed --logdir --amp/--no-amp --quiet
    args = parser.parse_args()
    ctx = setup_run(args, "miniplaces")      # device, precision, seeds, DDP, run dir, config.json
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import torch

from .device import Precision, choose_precision, resolve_device, seed_everything
from .distributed import DistInfo, init_distributed
from .rundir import RunDir


def add_engine_args(parser: argparse.ArgumentParser, *, training: bool = True, resume: bool = False) -> None:
    group = parser.add_argument_group("engine (common to every assignment)")
    group.add_argument("--device", default="auto",
                       help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps (default: auto)")
    group.add_argument("--seed", type=int, default=0, help="seed for python/numpy/torch and data order (default: 0)")
    group.add_argument("--logdir", default=None,
                       help="run directory (default: logs/<assignment>/exp_<YYYY-mm-dd_HH-MM-SS>/)")
    group.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")
    if training:
        group.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True,
                           help="mixed precision on CUDA (bf16 if supported, else fp16 + GradScaler); "
                                "no effect on CPU (default: on)")
    if resume:
        group.add_argument("--resume", default="", metavar="PATH",
                           help="checkpoint to continue from (exact epoch/step, optimizer, scheduler, RNG)")


def demo_parser(description: str, *, out_help: str, quick_help: str) -> argparse.ArgumentParser:
    """The flags of every assignment's demo stage: ``--out DIR [--quick] [--device D]``."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help=out_help)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    return parser


@dataclass
class RunContext:
    device: torch.device
    precision: Precision
    dist: DistInfo
    run: RunDir


def setup_run(args: argparse.Namespace, assignment: str, *, write: bool = True) -> RunContext:
    """Resolve the device, seed everything, join DDP if under torchrun, create the run dir."""
    device = resolve_device(getattr(args, "device", "auto"))
    dist_info, device = init_distributed(device)
    seed_everything(getattr(args, "seed", 0))  # same seed on every rank: identical initial weights
    precision = choose_precision(device, amp=getattr(args, "amp", False))
    run = RunDir.create(assignment, getattr(args, "logdir", None), resume=getattr(args, "resume", None) or None,
                        writes=write and dist_info.is_main)
    run.write_config(args, device, {"precision": precision.name, "world_size": dist_info.world_size})
    if dist_info.is_main and not getattr(args, "quiet", False):
        print(f"run directory: {run.path}  device: {device}  precision: {precision.name}"
              + (f"  world size: {dist_info.world_size}" if dist_info.enabled else ""), flush=True)
    return RunContext(device, precision, dist_info, run)
