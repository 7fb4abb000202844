"""Running a trained model over data for its outputs: the one loop every report needs."""
from __future__ import annotations

from typing import Callable, Iterable, NamedTuple

import torch
import torch.nn as nn

from .modules import eval_mode


class Collected(NamedTuple):
    outputs: torch.Tensor        # fn(model(x)) per sample, on the CPU
    labels: torch.Tensor         # the batches' last element, on the CPU
    inputs: torch.Tensor | None  # the inputs themselves (keep_inputs=True), on the CPU


@torch.no_grad()
def collect(model: nn.Module, batches: Iterable, *, device, fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
            limit: int | None = None, keep_inputs: bool = False) -> Collected:
    """Outputs of ``model`` in eval mode (restored after) over ``batches`` of ``(inputs, ..., labels)``.

    ``fn`` maps the model's output batch (default: the output itself); ``limit`` stops after
    that many samples (batches are not read past it).
    """
    outputs, labels, inputs, seen = [], [], [], 0
    with eval_mode(model):
        for batch in batches:
            x, y = batch[0].to(device), batch[-1]
            out = model(x)
            outputs.append((fn(out) if fn is not None else out).cpu())
            labels.append(torch.as_tensor(y).cpu())
            if keep_inputs:
                inputs.append(x.cpu())
            seen += len(x)
            if limit is not None and seen >= limit:
                break
    cut = slice(None, limit)
    return Collected(torch.cat(outputs)[cut], torch.cat(labels)[cut], torch.cat(inputs)[cut] if keep_inputs else None)


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Predicted labels (argmax) for a batch of inputs, in eval mode, on ``x``'s device (no host copy)."""
    with eval_mode(model):
        return model(x).argmax(dim=1)
