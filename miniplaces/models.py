"""Which network a main.py run builds, with a distinct checkpoint arch name per choice.

The arch name goes into every checkpoint, so resuming or evaluating a checkpoint of
another architecture stops with the engine's one-line error instead of a shape dump.
ResNet-18 weights come from torchvision's weights API (cached under ``$TORCH_HOME``)
or from a local file; offline without either, the error names both options.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch
import torch.nn as nn

from common.errors import UserError

from miniplaces.student_code import CustomConv2d, PlacesResNet, default_cnn_model, default_vit_model

WEIGHTS_HINT = ("pass --pretrained-weights PATH (a local torchvision resnet18 state dict, e.g. "
                "resnet18-f37072fd.pth copied from a machine with internet into $TORCH_HOME/hub/checkpoints/), "
                "or --pretrained-weights none for random initialisation (offline smoke tests only)")


def arch_name(args: argparse.Namespace) -> str:
    if args.use_resnet18:
        return "resnet18_finetune"
    if args.use_vit:
        return "simplevit"
    if args.use_own_cnn:
        return f"places_resnet_w{args.own_cnn_width}"
    return "simplenet_customconv" if args.use_custom_conv else "simplenet"


def check_choice(args: argparse.Namespace) -> None:
    chosen = [f for f in ("use_vit", "use_resnet18", "use_own_cnn") if getattr(args, f)]
    if len(chosen) > 1:
        raise UserError("choose at most one of --use-vit, --use-resnet18, --use-own-cnn")
    if args.use_custom_conv and chosen:
        raise UserError("--use-custom-conv applies to SimpleNet only; drop it or drop " +
                        "--" + chosen[0].replace("_", "-"))


def build_model(args: argparse.Namespace, num_classes: int) -> nn.Module:
    """The network selected by the flags (SimpleNet by default)."""
    check_choice(args)
    if args.use_resnet18:
        return resnet18_finetune(args.pretrained_weights, num_classes)
    if args.use_vit:
        return default_vit_model(num_classes=num_classes, img_size=args.image_size,
                                 patch_size=args.vit_patch_size)
    if args.use_own_cnn:
        return PlacesResNet(num_classes=num_classes, width=args.own_cnn_width)
    return default_cnn_model(conv_op=CustomConv2d if args.use_custom_conv else nn.Conv2d, num_classes=num_classes)


def _imagenet_state_dict() -> dict:
    """ImageNet weights through the weights API (downloads once into $TORCH_HOME)."""
    from torchvision.models import ResNet18_Weights

    weights = ResNet18_Weights.IMAGENET1K_V1
    cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)
    try:
        return weights.get_state_dict(progress=False, check_hash=True)
    except (OSError, RuntimeError) as err:  # URLError is an OSError
        raise UserError(f"could not get ImageNet weights {weights} (not cached at {cached}; download failed: "
                        f"{str(err).splitlines()[0][:120]}); {WEIGHTS_HINT}") from None


def _local_state_dict(path: str) -> dict:
    if not os.path.isfile(path):
        raise UserError(f"--pretrained-weights {path}: file not found; {WEIGHTS_HINT}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is the same user problem
        raise UserError(f"--pretrained-weights {path}: not a readable PyTorch weights file ({type(err).__name__})")
    return state.get("state_dict", state) if isinstance(state, dict) else state


def resnet18_finetune(pretrained: str, num_classes: int) -> nn.Module:
    """torchvision ResNet-18 with ImageNet (or local, or no) weights and a new ``num_classes`` head.

    ``pretrained``: ``imagenet`` (weights API), ``none`` (random init), or a file path.
    """
    from torchvision.models import resnet18

    model = resnet18(weights=None)
    if pretrained.lower() != "none":
        state = _imagenet_state_dict() if pretrained.lower() == "imagenet" else _local_state_dict(pretrained)
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}  # the 1000-way head is replaced
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or [k for k in missing if not k.startswith("fc.")]:
            raise UserError(f"--pretrained-weights {pretrained}: not resnet18 weights "
                            f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model
