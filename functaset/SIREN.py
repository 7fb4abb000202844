"""The course's modulated SIREN (Functa, Dupont et al. 2022, https://arxiv.org/abs/2201.12204).

Every layer computes ``sin(w0 * (W h + b + shift_l))``; the shifts of all layers come
from one linear map of the image's modulation vector, ``modul: Linear(M, hidden*depth)``,
split into ``depth`` chunks.  The input is the raw integer pixel grid ``(row, col)``
(0..27, 'ij' order, *not* normalised) and a linear head gives one grey value per pixel.

Key names match the course checkpoint, so ``modSiren.pth`` loads unchanged::

    inr = ModulatedSIREN()
    inr.load_state_dict(torch.load("modSiren.pth", map_location="cpu", weights_only=True)["state_dict"])
    images = inr(vectors)          # (N, 512) -> (N, 28, 28)
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn


def pixel_grid(height: int, width: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """Raw integer pixel coordinates ``(row, col)`` in 'ij' order: ``(H*W, 2)``."""
    rows = torch.arange(height, device=device, dtype=dtype)
    cols = torch.arange(width, device=device, dtype=dtype)
    grid = torch.stack(torch.meshgrid(rows, cols, indexing="ij"), dim=-1)  # (H, W, 2)
    return grid.reshape(-1, 2)  # (H*W, 2)


class SirenLayer(nn.Module):
    """``sin(w0 * (affine(x) + shift))``; the shift is added *before* the multiplication by w0."""

    def __init__(self, in_features: int, out_features: int, *, w0: float, is_first: bool):
        super().__init__()
        self.w0 = w0
        self.affine = nn.Linear(in_features, out_features)
        # SIREN init: first layer U(-1/in, 1/in); later layers U(-sqrt(6/in)/w0, +).
        bound = 1.0 / in_features if is_first else math.sqrt(6.0 / in_features) / w0
        nn.init.uniform_(self.affine.weight, -bound, bound)
        nn.init.zeros_(self.affine.bias)

    def forward(self, x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        """x ``(N, P, in)`` or shared coordinates ``(P, in)``; shift ``(N, 1, out)`` -> ``(N, P, out)``."""
        # w0 (W x + b + s) == (w0 W) x + w0 (b + s): scaling the small tensors instead of the
        # (N, P, out) activations saves two full passes over memory (about 35% faster on CPU).
        weight = self.w0 * self.affine.weight  # (out, in)
        bias = self.w0 * (self.affine.bias + shift)  # (N, 1, out)
        if x.ndim == 2:  # the first layer: one coordinate grid shared by all images
            return torch.sin(x @ weight.T + bias)
        return torch.sin(torch.baddbmm(bias, x, weight.T.expand(x.shape[0], -1, -1)))


class Siren(nn.Module):
    """``depth`` SirenLayers (``net``) and a linear head (``hidden2rgb``), as in the course file."""

    def __init__(self, *, in_features: int = 2, hidden: int = 256, depth: int = 10, out_features: int = 1,
                 w0: float = 30.0):
        super().__init__()
        self.net = nn.ModuleList(
            SirenLayer(in_features if i == 0 else hidden, hidden, w0=w0, is_first=i == 0) for i in range(depth))
        self.hidden2rgb = nn.Linear(hidden, out_features)
        bound = math.sqrt(6.0 / hidden) / w0
        nn.init.uniform_(self.hidden2rgb.weight, -bound, bound)
        nn.init.zeros_(self.hidden2rgb.bias)

    def forward(self, coords: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
        """coords ``(P, in)``, shifts ``(N, depth, hidden)`` -> ``(N, P, out)``."""
        h = coords
        for i, layer in enumerate(self.net):
            h = layer(h, shifts[:, i, None, :])  # (N, P, hidden)
        return self.hidden2rgb(h)  # (N, P, out)


class ModulatedSIREN(nn.Module):
    """Decode modulation vectors into images: ``(N, M) -> (N, H, W)`` or ``(M,) -> (H, W)``."""

    def __init__(self, *, height: int = 28, width: int = 28, hidden: int = 256, depth: int = 10,
                 modul_features: int = 512, w0: float = 30.0, out_channels: int = 1,
                 hidden_features: int | None = None, num_layers: int | None = None, freq: float | None = None,
                 device=None):
        """``hidden_features``, ``num_layers``, ``freq`` and ``device`` are the course file's names
        (the starter calls ``ModulatedSIREN(height=28, width=28, hidden_features=256, num_layers=10,
        modul_features=512)``); given, they override ``hidden``, ``depth`` and ``w0``."""
        super().__init__()
        hidden = hidden if hidden_features is None else hidden_features
        depth = depth if num_layers is None else num_layers
        w0 = w0 if freq is None else freq
        self.height, self.width, self.hidden, self.depth = height, width, hidden, depth
        self.modul_features, self.out_channels = modul_features, out_channels
        self.siren = Siren(hidden=hidden, depth=depth, out_features=out_channels, w0=w0)
        self.modul = nn.Linear(modul_features, hidden * depth)
        nn.init.zeros_(self.modul.bias)  # a zero modulation means "no shift" at initialisation
        # Not a parameter and not saved: the course state_dict has no coordinate buffer.
        self.register_buffer("coords", pixel_grid(height, width), persistent=False)
        if device is not None:
            self.to(device)

    def config(self) -> dict:
        """Constructor arguments, saved beside the weights so a file rebuilds its own model."""
        return {"height": self.height, "width": self.width, "hidden": self.hidden, "depth": self.depth,
                "modul_features": self.modul_features, "w0": self.siren.net[0].w0,
                "out_channels": self.out_channels}

    def shifts(self, vec: torch.Tensor) -> torch.Tensor:
        """``(N, M) -> (N, depth, hidden)``: one shift per layer and unit."""
        return self.modul(vec).view(vec.shape[0], self.depth, self.hidden)

    def forward(self, vec: torch.Tensor) -> torch.Tensor:
        single = vec.ndim == 1
        if single:
            vec = vec.unsqueeze(0)
        if vec.ndim != 2 or vec.shape[1] != self.modul_features:
            raise ValueError(f"expected modulations (N, {self.modul_features}) or ({self.modul_features},), "
                             f"got {tuple(vec.shape)}")
        out = self.siren(self.coords.to(vec.dtype), self.shifts(vec))  # (N, H*W, C)
        out = out.view(vec.shape[0], self.height, self.width, self.out_channels)
        out = out.squeeze(-1) if self.out_channels == 1 else out.permute(0, 3, 1, 2)  # (N, H, W) | (N, C, H, W)
        return out[0] if single else out


def load_siren(path, map_location="cpu", **overrides) -> ModulatedSIREN:
    """Build a ModulatedSIREN from a ``modSiren.pth``-style file (course or made by make_functaset)."""
    from common.checkpoint import load_checkpoint, load_model_weights

    ckpt = load_checkpoint(path, map_location=map_location, flag="-p/--data-path")  # attack.py: -p's modSiren.pth
    config = {**infer_config(ckpt.get("state_dict", {})), **(ckpt.get("config") or {}), **overrides}
    inr = ModulatedSIREN(**config)
    load_model_weights(inr, ckpt, path)
    return inr.to(map_location).eval()


def infer_config(state_dict: dict) -> dict:
    """Sizes readable from the weights themselves (hidden, depth, modulation size, channels)."""
    if "modul.weight" not in state_dict or "siren.hidden2rgb.weight" not in state_dict:
        return {}
    depth = len({k.split(".")[2] for k in state_dict if k.startswith("siren.net.")})
    hidden_x_depth, modul_features = state_dict["modul.weight"].shape
    return {"depth": depth, "hidden": hidden_x_depth // max(depth, 1), "modul_features": modul_features,
            "out_channels": state_dict["siren.hidden2rgb.weight"].shape[0]}
