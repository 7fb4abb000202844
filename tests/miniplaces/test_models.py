"""The architecture table: --arch and the course's aliases, legacy checkpoint names, conflicts refused
before anything is written, and a new model added as one table entry."""
from __future__ import annotations

import argparse
import json

import pytest
import torch
import torch.nn as nn

from miniplaces import main as mp_main
from miniplaces.models import ARCHS, Arch, choose_arch, make_optimizer

FAST = ["-b", "8", "-j", "0", "--warmup", "0", "--image-size", "32", "--num-classes", "4", "--quiet", "-p", "1",
        "--device", "cpu"]


def parsed(*flags: str) -> argparse.Namespace:
    return mp_main.build_parser().parse_args(["DATA", *flags])


@pytest.mark.parametrize("flags,name", [
    ([], "simplenet"),
    (["--use-custom-conv"], "simplenet_customconv"),
    (["--use-vit"], "simplevit"),
    (["--use-resnet18"], "resnet18_finetune"),
    (["--use-own-cnn", "--own-cnn-width", "8"], "places_resnet_w8"),
    (["--arch", "places_resnet"], "places_resnet_w64"),
    (["--arch", "simplevit", "--use-vit"], "simplevit"),  # the same model twice is no conflict
])
def test_aliases_and_arch_give_the_checkpoint_names_existing_checkpoints_carry(flags, name):
    args = parsed(*flags)
    assert choose_arch(args).arch_name(args) == name


@pytest.mark.parametrize("flags,needles", [
    (["--arch", "simplevit", "--use-resnet18"], ["--arch simplevit and --use-resnet18", "pass one of them"]),
    (["--use-vit", "--use-own-cnn"], ["--use-vit and --use-own-cnn", "simplevit, places_resnet"]),
    (["--use-custom-conv", "--use-vit"], ["--use-custom-conv and --use-vit"]),
    (["--use-vit", "--adv-train"], ["--adv-train", "simplevit"]),
    (["--use-vit", "--vit-patch-size", "5"], ["does not divide"]),
])
def test_conflicts_are_refused_in_check_args_before_anything_is_written(toy_root, tmp_path, monkeypatch, capsys,
                                                                      flags, needles):
    monkeypatch.chdir(tmp_path)  # a default run directory would land here
    with pytest.raises(SystemExit) as exit_:
        mp_main.main([str(toy_root), *FAST, *flags])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    assert all(n in err[0] for n in needles), err[0]
    assert list(tmp_path.iterdir()) == []


def test_every_entry_builds_and_gets_its_optimizer():
    args = parsed("--image-size", "32", "--vit-patch-size", "8", "--pretrained-weights", "none",
                  "--own-cnn-width", "8")
    x = torch.randn(2, 3, 32, 32)
    for arch in ARCHS.values():
        model = arch.build(args, 4).eval()
        with torch.no_grad():
            assert model(x).shape == (2, 4), arch.name
        optimizer = make_optimizer(arch, model, args)
        assert type(optimizer).__name__ == ("AdamW" if arch.name == "simplevit" else "SGD"), arch.name
    assert [a.name for a in ARCHS.values() if a.clip] == ["simplevit"]  # the course clips the ViT only


def test_help_lists_the_table():
    text = mp_main.build_parser().format_help()
    assert all(name in text for name in ARCHS) and "own_cnn.py" not in text


class TinyNet(nn.Module):
    def __init__(self, num_classes: int):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                 nn.Linear(4, num_classes))

    def forward(self, x):
        return self.net(x)


def test_adding_a_model_is_one_table_entry(toy_root, tmp_path, monkeypatch):
    """One entry plus its builder: --arch accepts it, it trains with the optimizer and clipping it names,
    and its checkpoints carry its name."""
    import miniplaces.models as models

    monkeypatch.setitem(models.ARCHS, "tinynet", Arch("tinynet", lambda args, k: TinyNet(k), "a tiny CNN",
                                                      optimizer="adamw", clip=True))
    clipped = []
    clip = torch.nn.utils.clip_grad_norm_
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", lambda *a, **k: clipped.append(1) or clip(*a, **k))
    assert "tinynet" in mp_main.build_parser().format_help()
    out = tmp_path / "run"
    metrics = mp_main.main([str(toy_root), *FAST, "--arch", "tinynet", "--lr", "1e-3", "--epochs", "1",
                            "--logdir", str(out)])
    assert metrics["arch"] == "tinynet" and metrics["params"] == sum(p.numel() for p in TinyNet(4).parameters())
    assert clipped
    ckpt = torch.load(out / "models" / "checkpoint.pth.tar", weights_only=True)
    assert ckpt["arch"] == "tinynet" and "exp_avg" in str(ckpt["optimizer"]["state"])  # AdamW's moments
    assert json.loads((out / "config.json").read_text())["args"]["arch"] == "tinynet"
