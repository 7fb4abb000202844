"""The parameter-space classifiers: an MLP on modulation vectors (never on decoded images),
and the starter's linear ``VanillaClassifier`` as the baseline.

The vectors' scale differs per dimension, so the MLP standardises its input with the
training set's mean/std, kept as buffers inside the model: attacks and saved models work
in the raw vector units the functaset stores, and epsilon means the same thing everywhere.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from common.checkpoint import load_checkpoint, load_model_weights

ARCH = "functa_mlp"  # every functaset classifier checkpoint; ``model_config["kind"]`` says which model


class VanillaClassifier(nn.Module):
    """The course starter's baseline (its classifier.py): one ``nn.Linear`` on the raw vector.

    Same constructor, attribute name (``net``) and state_dict keys as the starter's, so its
    ``VanillaClassifier(in_features=512, num_classes=10)`` + ``load_state_dict(ckpt['state_dict'])``
    loads a checkpoint that ``classifier.py --model vanilla`` wrote.
    """

    def __init__(self, in_features: int = 512, num_classes: int = 10):
        super().__init__()
        self.hparams = {"kind": "vanilla", "in_features": in_features, "num_classes": num_classes}
        self.net = nn.Linear(in_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, D) -> (N, K)
        return self.net(x)


class FunctaMLP(nn.Module):
    """``(N, D) -> (N, K)``: standardise, then ``depth`` x (Linear, LayerNorm, GELU, Dropout), then Linear."""

    def __init__(self, *, in_dim: int = 512, num_classes: int = 10, hidden: int = 1024, depth: int = 3,
                 dropout: float = 0.2, input_dropout: float = 0.1):
        super().__init__()
        self.hparams = {"in_dim": in_dim, "num_classes": num_classes, "hidden": hidden, "depth": depth,
                        "dropout": dropout, "input_dropout": input_dropout}
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("std", torch.ones(in_dim))
        layers: list[nn.Module] = [nn.Dropout(input_dropout)]
        width = in_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.LayerNorm(hidden), nn.GELU(), nn.Dropout(dropout)]
            width = hidden
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    @torch.no_grad()
    def set_normalization(self, vectors: torch.Tensor) -> None:
        """Per-dimension mean/std of the training vectors ``(N, D)``."""
        self.mean.copy_(vectors.mean(dim=0))
        self.std.copy_(vectors.std(dim=0).clamp_min(1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)


def load_classifier(path, device="cpu", flag: str | None = "-m/--model-path") -> FunctaMLP:
    """Rebuild a classifier saved by classifier.py (its sizes are stored in the checkpoint's args);
    ``flag``: the command-line flag that gave ``path``, for error messages (None: the run's own file)."""
    ckpt = load_checkpoint(path, map_location=device, expected_arch=ARCH, flag=flag)
    hparams = ckpt.get("model_config") or (ckpt.get("args") or {}).get("model_config") or {}  # older: in args
    model = build_classifier(hparams)
    load_model_weights(model, ckpt, path)
    return model.to(device).eval()


def build_classifier(hparams: dict) -> nn.Module:
    """The model a checkpoint's ``model_config`` describes (no ``kind``: an MLP, as older checkpoints)."""
    hparams = dict(hparams)
    kind = hparams.pop("kind", "mlp")
    return VanillaClassifier(**hparams) if kind == "vanilla" else FunctaMLP(**hparams)
