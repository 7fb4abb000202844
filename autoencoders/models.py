"""Encoder, decoder, classifier and projection head (each at most three weight layers).

A "layer" here is a layer with weights (conv, transposed conv, linear); BatchNorm, ReLU
and pooling are counted as parts of the layer they follow.  With the 3-layer budget the
encoder is two 3x3 conv blocks (each halving the resolution) and a third convolution
whose kernel covers the whole remaining H/4 x W/4 map, i.e. a learned linear map to the
128-d latent that keeps spatial layout (global pooling would throw away *where* things
are, which the decoder needs).  The decoder mirrors it.
"""
from __future__ import annotations

import hashlib

import torch
import torch.nn as nn


def conv_block(cin: int, cout: int) -> nn.Sequential:
    """3x3 conv + BN + ReLU, then 2x2 max-pool: (B, cin, H, W) -> (B, cout, H/2, W/2)."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True), nn.MaxPool2d(2))


class Encoder(nn.Module):
    """(B, C, H, W) normalised images -> (B, latent_dim) codes; H = W divisible by 4."""

    def __init__(self, *, in_channels: int, image_size: int, latent_dim: int = 128, width: int = 64):
        super().__init__()
        assert image_size % 4 == 0, f"image size {image_size} must be divisible by 4"
        self.latent_dim, self.in_channels, self.image_size, self.width = latent_dim, in_channels, image_size, width
        self.features = nn.Sequential(conv_block(in_channels, width), conv_block(width, 2 * width))
        self.to_latent = nn.Conv2d(2 * width, latent_dim, image_size // 4)  # (B, 2w, H/4, W/4) -> (B, L, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_latent(self.features(x)).flatten(1)  # (B, L)


class Decoder(nn.Module):
    """(B, latent_dim) codes -> (B, C, H, W) images in normalised units (no output squashing)."""

    def __init__(self, *, out_channels: int, image_size: int, latent_dim: int = 128, width: int = 64):
        super().__init__()
        self.latent_dim = latent_dim
        self.net = nn.Sequential(
            nn.ConvTranspose2d(latent_dim, 2 * width, image_size // 4, bias=False),  # (B, 2w, H/4, W/4)
            nn.BatchNorm2d(2 * width), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1, bias=False),  # (B, w, H/2, W/2)
            nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(width, out_channels, 4, stride=2, padding=1),  # (B, C, H, W)
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z[:, :, None, None])  # (B, L, 1, 1) -> (B, C, H, W)


class AutoEncoder(nn.Module):
    """Encoder + decoder; ``forward`` returns the reconstruction."""

    def __init__(self, encoder: Encoder, decoder: Decoder):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def classifier_head(latent_dim: int = 128, num_classes: int = 10, hidden: int = 256,
                    dropout: float = 0.2) -> nn.Sequential:
    """The one classifier architecture used on every encoder (1.2.1, 1.2.2 and 1.2.3): a 2-layer MLP."""
    return nn.Sequential(nn.Linear(latent_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                         nn.Dropout(dropout), nn.Linear(hidden, num_classes))


def projection_head(latent_dim: int = 128, out_dim: int = 128) -> nn.Sequential:
    """SimCLR's g(.): the loss is applied after it, the representation kept is before it."""
    return nn.Sequential(nn.Linear(latent_dim, latent_dim), nn.BatchNorm1d(latent_dim),
                         nn.ReLU(inplace=True), nn.Linear(latent_dim, out_dim))


class EncoderClassifier(nn.Module):
    """Encoder + classifier head trained together on cross-entropy (1.2.2)."""

    def __init__(self, encoder: Encoder, head: nn.Module):
        super().__init__()
        self.encoder, self.head = encoder, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


class FrozenEncoderClassifier(nn.Module):
    """A classifier head on a frozen encoder (1.2.1 and 1.2.3).

    The encoder's parameters have ``requires_grad=False`` and it stays in eval mode even
    when the wrapper is put in training mode, so neither the optimiser nor BatchNorm's
    running statistics can change it; the tests check both bit for bit.
    """

    def __init__(self, encoder: Encoder, head: nn.Module):
        super().__init__()
        self.encoder, self.head = encoder, head
        self.encoder.requires_grad_(False)
        self.encoder.eval()

    def train(self, mode: bool = True) -> "FrozenEncoderClassifier":
        super().train(mode)
        self.encoder.eval()  # why: BatchNorm in train mode would update its running stats
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            z = self.encoder(x)
        return self.head(z)


class ContrastiveModel(nn.Module):
    """Encoder + projection head for SimCLR pre-training; ``forward`` returns projections."""

    def __init__(self, encoder: Encoder, projector: nn.Module):
        super().__init__()
        self.encoder, self.projector = encoder, projector

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projector(self.encoder(x))


def state_fingerprint(state: dict) -> str:
    """SHA-256 (first 16 hex digits) of a state dict's names and exact bytes, to pair checkpoints."""
    digest = hashlib.sha256()
    for name, tensor in sorted(state.items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def encoder_fingerprint(encoder: nn.Module) -> str:
    """Fingerprint of an encoder's weights *and* buffers (BatchNorm statistics included)."""
    return state_fingerprint(encoder.state_dict())
