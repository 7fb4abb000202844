"""Images per second of SimCLR pre-training (two augmented views + forward/backward + AdamW step).

    python scripts/bench.py contrastive [--shape cifar|mnist] [--batch-size 512] [--device auto]
    python -m autoencoders.bench --help

Data is random uint8 images already on the device (as in training, where the whole
dataset is resident), so the number measures augmentation + model, not loading.  Also
reports the augmentation alone, to show it is not the bottleneck.
"""
from __future__ import annotations

import argparse
import json

import torch

from autoencoders.augment import ViewAugment
from autoencoders.data import Normalizer
from autoencoders.models import ContrastiveModel, Encoder, projection_head
from autoencoders.steps import contrastive_step, two_views
from common.device import choose_precision, resolve_device
from common.errors import cli_main
from common.images import to_unit
from common.timing import seconds_per_call

SHAPES = {"cifar": (3, 32, "color"), "mnist": (1, 28, "digits")}


def bench(shape: str = "cifar", batch_size: int = 512, width: int = 128, steps: int = 20, warmup: int = 3,
          device: str = "auto", amp: bool = True) -> dict:
    """Measure and return {'train_images_per_s', 'augment_images_per_s', ...}."""
    dev = resolve_device(device)
    precision = choose_precision(dev, amp=amp)
    channels, size, kind = SHAPES[shape]
    images = torch.randint(0, 256, (batch_size, channels, size, size), dtype=torch.uint8, device=dev)
    norm = Normalizer((0.5,) * channels, (0.25,) * channels, dev)
    views = two_views(norm, ViewAugment(kind))
    model = ContrastiveModel(Encoder(in_channels=channels, image_size=size, width=width), projection_head()).to(dev)
    if dev.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    step = contrastive_step(0.5)

    def train_step():
        v1, v2 = views(to_unit(images))
        with precision.autocast():
            loss = step(model, (v1, v2)).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    train_s = seconds_per_call(train_step, dev, steps=steps, warmup=warmup)
    augment_s = seconds_per_call(lambda: views(to_unit(images)), dev, steps=steps, warmup=warmup)
    return {"device": str(dev), "precision": precision.name, "shape": shape, "batch_size": batch_size,
            "width": width, "train_images_per_s": batch_size / train_s,
            "augment_images_per_s": batch_size / augment_s, "seconds_per_step": train_s}


@cli_main
def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=SHAPES, default="cifar", help="image shape: cifar (3x32x32) or mnist")
    parser.add_argument("--batch-size", type=int, default=512, help="images per step (each gives two views)")
    parser.add_argument("--width", type=int, default=128, help="encoder width (default: 128, the CIFAR default)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps (default: 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (default: 3)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True, help="mixed precision on CUDA")
    args = parser.parse_args(argv)
    result = bench(args.shape, args.batch_size, args.width, args.steps, args.warmup, args.device, args.amp)
    print(f"contrastive pre-training on {result['device']} ({result['precision']}, {args.shape}, batch "
          f"{args.batch_size}, width {args.width}): {result['train_images_per_s']:.0f} images/s; "
          f"augmentation alone {result['augment_images_per_s']:.0f} images/s")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
