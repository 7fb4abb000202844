"""Default paths and sweep settings, importable without torch (the entry scripts' --help uses them)."""
from __future__ import annotations

from pathlib import Path

COURSE_PATH = Path("/datasets/functaset")
LOCAL_PATH = Path("data/functaset")
SERVER_ROOT = Path("/datasets/cv_datasets/data")
DEFAULT_EPSILONS = ["1e-6", "5e-6", "1e-5", "5e-5", "1e-4", "5e-4", "1e-3"]
# The digits functaset's modulations are much larger than the course's (inner LR 1 instead of
# 0.01; per-dimension std ~0.05), so breaking them needs larger bounds: the course sweep plus
# larger ones (the handout allows added bounds), keys written as in the course sweep.
DIGITS_EPSILONS = DEFAULT_EPSILONS + ["5e-3", "1e-2", "2e-2", "5e-2", "1e-1"]
DEFAULT_RATIOS = (0.05, 0.1, 0.25, 0.5, 1.0)  # step size / epsilon candidates for the grid search


def default_data_path() -> Path:
    """``/datasets/functaset`` on the course servers, else ``data/functaset``."""
    return COURSE_PATH if COURSE_PATH.is_dir() else LOCAL_PATH


def default_source_root() -> Path:
    """Where torchvision datasets live: the course server mount, else ``data/``."""
    return SERVER_ROOT if SERVER_ROOT.is_dir() else Path("data")


def add_cpu_flag(parser) -> None:
    """The starter's ``-c/--cpu`` (its classifier.py and attack.py): run on the CPU."""
    parser.add_argument("-c", "--cpu", action="store_true",
                        help="run on the CPU (the course starter's flag; the same as --device cpu)")


def apply_cpu_flag(args):
    """``-c/--cpu`` sets ``--device cpu``; with another explicit device it is a contradiction."""
    from common.errors import UserError

    if getattr(args, "cpu", False):
        if args.device not in ("auto", "cpu"):
            raise UserError(f"-c/--cpu contradicts --device {args.device}; pass one of them")
        args.device = "cpu"
    return args
