"""Datasets, modes and per-dataset defaults, importable without torch (main.py's --help uses them)."""
from __future__ import annotations

import os

DATASETS = ("mnist", "cifar10", "digits", "toy-cifar")
MODES = ("selfsup", "guided", "contrastive")
# Per-dataset defaults for flags left unset (real data gets the long schedules).
DEFAULTS = {
    "mnist": dict(width=64, batch_size=256, ae_epochs=20, clf_epochs=30, joint_epochs=20, contrastive_epochs=60),
    "cifar10": dict(width=128, batch_size=256, ae_epochs=40, clf_epochs=40, joint_epochs=60, contrastive_epochs=200),
    "digits": dict(width=32, batch_size=64, ae_epochs=40, clf_epochs=60, joint_epochs=20, contrastive_epochs=60),
    "toy-cifar": dict(width=32, batch_size=128, ae_epochs=30, clf_epochs=60, joint_epochs=15, contrastive_epochs=40),
}


def default_data_path() -> str:
    """The course servers' mount (the starter's default) if it exists here, else ``data/``."""
    return "/datasets/cv_datasets/data" if os.path.isdir("/datasets/cv_datasets/data") else "data"
