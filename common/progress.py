"""tqdm bars that switch themselves off when stdout is not a terminal or with --quiet."""
from __future__ import annotations

import sys

from tqdm.auto import tqdm


def progress(iterable=None, *, desc: str = "", quiet: bool = False, **kwargs):
    disable = quiet or not sys.stdout.isatty()
    return tqdm(iterable, desc=desc, disable=disable, dynamic_ncols=True, leave=False, **kwargs)
