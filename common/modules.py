"""Small helpers on ``nn.Module`` that every assignment needs: eval mode and DDP/compile unwrapping."""
from __future__ import annotations

import contextlib

import torch.nn as nn


@contextlib.contextmanager
def eval_mode(model: nn.Module):
    """Evaluate in eval mode (BatchNorm/Dropout frozen), restoring every module's own flag,
    also when the body raises (a bare ``model.eval() ... model.train()`` would not)."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:
            module.train(training)


def unwrap(model: nn.Module) -> nn.Module:
    """The bare model inside ``torch.compile`` and DDP (or DataParallel) wrappers; the model itself otherwise.

    Extra forward passes (an attack's inner loop) go through the bare model, so DDP's
    gradient hooks fire once per step; checkpoints store the bare model's weights (without
    the ``_orig_mod.`` prefix a compiled module adds to every key).
    """
    model = getattr(model, "_orig_mod", model)  # torch.compile's OptimizedModule
    wrappers = (nn.parallel.DistributedDataParallel, nn.DataParallel)
    return model.module if isinstance(model, wrappers) else model
