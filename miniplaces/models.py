"""The architecture table: every network main.py can train, with what differs per network.

One :class:`Arch` entry per model (its ``name`` is ``--arch NAME`` and the checkpoint arch
name) drives the argument checks, model building, the optimizer and gradient clipping.
The course's ``--use-custom-conv/--use-vit/--use-resnet18`` (and our ``--use-own-cnn``)
are aliases of entries.  Adding a model is one entry plus its builder::

    def build_mynet(args, num_classes):
        return MyNet(num_classes=num_classes)

    ARCHS["mynet"] = Arch("mynet", build_mynet, help="my network")   # --arch mynet

The arch name goes into every checkpoint, so resuming or evaluating a checkpoint of
another architecture stops with the engine's one-line error instead of a shape dump.
ResNet-18 weights come from torchvision's weights API (cached under ``$TORCH_HOME``)
or from a local file; offline without either, the error names both options.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from common.errors import UserError

if TYPE_CHECKING:  # the table is read before torch loads (main.py's --help lists it); builders import lazily
    import torch
    import torch.nn as nn

WEIGHTS_HINT = ("pass --pretrained-weights PATH (a local torchvision resnet18 state dict, e.g. "
                "resnet18-f37072fd.pth copied from a machine with internet into $TORCH_HOME/hub/checkpoints/), "
                "or --pretrained-weights none for random initialisation (offline smoke tests only)")
Builder = Callable[[argparse.Namespace, int], "nn.Module"]


@dataclass(frozen=True)
class Arch:
    """One trainable network and what main.py does differently for it."""

    name: str                       # --arch NAME; also the checkpoint arch name unless ``checkpoint_name`` says
    build: Builder                  # (args, num_classes) -> model
    help: str = ""
    alias: str | None = None        # course-style flag that also selects it, e.g. "--use-vit"
    optimizer: str = "sgd"          # a key of OPTIMIZERS
    clip: bool = False              # clip gradients to --clip-grad (the course clips the ViT only)
    adv_train: bool = False         # --adv-train can attach PGD to its forward (SimpleNet's ``attacker``)
    check: Callable[[argparse.Namespace], None] | None = None      # input constraints: raise UserError
    checkpoint_name: Callable[[argparse.Namespace], str] | None = None

    def arch_name(self, args: argparse.Namespace) -> str:
        """What checkpoints of this run are stamped with (existing checkpoints depend on these names)."""
        return self.checkpoint_name(args) if self.checkpoint_name else self.name


# ------------------------------------------------------------------ builders
def _simplenet(args: argparse.Namespace, num_classes: int) -> nn.Module:
    import torch.nn as nn

    from miniplaces.student_code import default_cnn_model

    return default_cnn_model(conv_op=nn.Conv2d, num_classes=num_classes)


def _simplenet_customconv(args: argparse.Namespace, num_classes: int) -> nn.Module:
    from miniplaces.student_code import CustomConv2d, default_cnn_model

    return default_cnn_model(conv_op=CustomConv2d, num_classes=num_classes)


def _simplevit(args: argparse.Namespace, num_classes: int) -> nn.Module:
    from miniplaces.student_code import default_vit_model

    return default_vit_model(num_classes=num_classes, img_size=args.image_size, patch_size=args.vit_patch_size)


def _places_resnet(args: argparse.Namespace, num_classes: int) -> nn.Module:
    from miniplaces.student_code import PlacesResNet

    return PlacesResNet(num_classes=num_classes, width=args.own_cnn_width)


def _check_patches(args: argparse.Namespace) -> None:
    if args.image_size % args.vit_patch_size:
        raise UserError(f"--vit-patch-size {args.vit_patch_size} does not divide --image-size {args.image_size}; "
                        "pick a patch size that divides it (e.g. 16 for 128, 8 for 32)")


# --------------------------------------------------------------------- table
ARCHS: dict[str, Arch] = {a.name: a for a in [
    Arch("simplenet", _simplenet, "SimpleNet, the course's CNN (default)", adv_train=True),
    Arch("simplenet_customconv", _simplenet_customconv, "SimpleNet with the unfold convolution",
         alias="--use-custom-conv", adv_train=True),
    Arch("simplevit", _simplevit, "SimpleViT (AdamW, gradients clipped)", alias="--use-vit", optimizer="adamw",
         clip=True, check=_check_patches),
    Arch("resnet18_finetune", lambda args, k: resnet18_finetune(args.pretrained_weights, k),
         "fine-tune torchvision ResNet-18", alias="--use-resnet18"),
    Arch("places_resnet", _places_resnet, "our residual CNN with BatchNorm (PlacesResNet in student_code.py)",
         alias="--use-own-cnn", checkpoint_name=lambda args: f"places_resnet_w{args.own_cnn_width}"),
]}


def alias_dest(alias: str) -> str:
    """``--use-vit`` -> ``use_vit`` (the argparse attribute)."""
    return alias.lstrip("-").replace("-", "_")


def choose_arch(args: argparse.Namespace) -> Arch:
    """The one entry chosen by ``--arch`` and/or the alias flags (default SimpleNet); conflicts are refused."""
    chosen = {f"--arch {args.arch}": args.arch} if getattr(args, "arch", None) else {}
    chosen.update({a.alias: a.name for a in ARCHS.values() if a.alias and getattr(args, alias_dest(a.alias), False)})
    models = list(dict.fromkeys(chosen.values()))
    if len(models) > 1:
        raise UserError(f"{' and '.join(chosen)} choose different models ({', '.join(models)}); pass one of them")
    return ARCHS[next(iter(chosen.values()), "simplenet")]


def check_arch(arch: Arch, args: argparse.Namespace) -> None:
    """The entry's input constraints and what it supports (before anything is written)."""
    if args.adv_train and not arch.adv_train:
        supported = " or ".join(a.name for a in ARCHS.values() if a.adv_train)
        raise UserError(f"--adv-train is wired into SimpleNet's forward (as the handout describes), not into "
                        f"{arch.name}: drop the other model flag (--arch {supported})")
    if arch.check is not None:
        arch.check(args)


# ---------------------------------------------------------------- optimizers
def _decayed(name: str, param: nn.Parameter) -> bool:
    """--wd-skip-norms: weight decay only on matrices and kernels, not on norms, biases or the position embedding."""
    return param.ndim > 1 and "pos_embed" not in name


def _adamw(model: nn.Module, args: argparse.Namespace) -> torch.optim.Optimizer:
    import torch

    if not args.wd_skip_norms:
        return torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.wd)
    groups = [{"params": [p for n, p in model.named_parameters() if _decayed(n, p)], "weight_decay": args.wd},
              {"params": [p for n, p in model.named_parameters() if not _decayed(n, p)], "weight_decay": 0}]
    return torch.optim.AdamW(groups, lr=args.lr)


def _sgd(model: nn.Module, args: argparse.Namespace) -> torch.optim.Optimizer:
    import torch

    return torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum, weight_decay=args.wd)


OPTIMIZERS: dict[str, Callable[[nn.Module, argparse.Namespace], torch.optim.Optimizer]] = {"sgd": _sgd, "adamw": _adamw}


def make_optimizer(arch: Arch, model: nn.Module, args: argparse.Namespace) -> torch.optim.Optimizer:
    return OPTIMIZERS[arch.optimizer](model, args)


# ------------------------------------------------------ ResNet-18 weights
def _imagenet_state_dict() -> dict:
    """ImageNet weights through the weights API (downloads once into $TORCH_HOME)."""
    import torch
    from torchvision.models import ResNet18_Weights

    weights = ResNet18_Weights.IMAGENET1K_V1
    cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)
    try:
        return weights.get_state_dict(progress=False, check_hash=True)
    except (OSError, RuntimeError) as err:  # URLError is an OSError
        raise UserError(f"could not get ImageNet weights {weights} (not cached at {cached}; download failed: "
                        f"{str(err).splitlines()[0][:120]}); {WEIGHTS_HINT}") from None


def _local_state_dict(path: str) -> dict:
    import torch

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
    import torch.nn as nn
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
