"""student_code.py alone, as the course's code/ folder and autograder use it: this repository not importable.

A subprocess gets a temporary folder holding only a copy of student_code.py, with
``miniplaces`` and ``common`` blocked in ``sys.modules``; there it imports every name the
course's main.py/test_conv.py import, builds every default model, runs the course's
float64 convolution check and gradcheck (batch 2, 3->64, kernel 7, stride 2, padding 3,
12x12, eps 1e-4, atol 1e-5; fast mode, a random projection of the Jacobians: the full check
the course's own test_conv.py runs takes 1.5-20 minutes on the shared 2-core CPU), forwards
128x128 images, attacks SimpleNet with ``default_attack``, trains one adversarial step with PGD
attached to SimpleNet's forward, and runs both transform pipelines on a uint8 RGB image.
"""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

STUDENT_CODE = Path(__file__).resolve().parents[2] / "miniplaces" / "student_code.py"
ALLOWED_IMPORTS = {"__future__", "math", "random", "collections", "cv2", "numpy", "torch", "torchvision"}

PROBE = r"""
import sys
sys.modules["miniplaces"] = None  # this repository is not importable in the course's folder
sys.modules["common"] = None
sys.path.insert(0, sys.argv[1])
import functools

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.autograd import gradcheck

import student_code as sc
from student_code import (CustomConv2d, default_cnn_model, default_vit_model, get_train_transforms,
                          get_val_transforms, default_attack, default_visfunction, custom_conv2d)
from student_code import (CustomConv2DFunction, SimpleNet, Attention, TransformerBlock, SimpleViT, PGDAttack,
                          vis_grid, PlacesResNet)
assert sc.__file__.startswith(sys.argv[1]), sc.__file__
torch.manual_seed(0)
torch.set_num_threads(1)  # the suite runs single-threaded; so does this subprocess

# The course's conv check: float64 forward against F.conv2d, then gradcheck (eps 1e-4, atol 1e-5).
x = torch.randn(2, 3, 12, 12, dtype=torch.float64, requires_grad=True)
w = torch.randn(64, 3, 7, 7, dtype=torch.float64, requires_grad=True)
b = torch.randn(64, dtype=torch.float64, requires_grad=True)
err = (custom_conv2d(x, w, b, 2, 3) - F.conv2d(x, w, b, 2, 3)).abs().max()
assert err < 1e-5, err
assert gradcheck(custom_conv2d, (x, w, b, 2, 3), eps=1e-4, atol=1e-5, fast_mode=True)

# The course's module wrapper: integer attributes, dilation/groups stored, nn.Conv2d-like repr.
conv = CustomConv2d(3, 64, 7, stride=2, padding=3)
assert (conv.kernel_size, conv.stride, conv.padding, conv.dilation, conv.groups) == (7, 2, 3, 1, 1)
assert repr(conv) == "CustomConv2d(3, 64, kernel_size=7, stride=2, padding=3)", repr(conv)
assert "bias=False" in repr(CustomConv2d(3, 4, 1, bias=False))
assert conv(x.float()).shape == (2, 64, 6, 6)

# Every default model, forward at 128x128.
mean, std = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
images = (torch.rand(2, 3, 128, 128) - mean) / std                      # normalised pixels, as main.py feeds
models = {"cnn": default_cnn_model(num_classes=100), "cnn_custom": default_cnn_model(conv_op=CustomConv2d,
          num_classes=100), "vit": default_vit_model(num_classes=100), "own": PlacesResNet(num_classes=100),
          "own_custom": PlacesResNet(conv_op=CustomConv2d, num_classes=100, width=16)}
for name, model in models.items():
    assert model.eval()(images).shape == (2, 100), name
assert sum(p.numel() for p in models["cnn"].parameters()) == 365_028

# The course's -a: default_attack(criterion).perturb(model, input) inside a grad-enabled validation loop.
simple = models["cnn"]
adv = default_attack(nn.CrossEntropyLoss()).perturb(simple, images)
assert adv.shape == images.shape and not adv.requires_grad
assert 0 < (adv - images).abs().max() <= 0.1 + 1e-6
pixels = adv * std + mean
assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5              # clamped to the pixel box
assert default_visfunction(adv).shape[0] == 3

# Adversarial training the handout's way: PGD attached to SimpleNet's forward.
attacker = PGDAttack(nn.CrossEntropyLoss(), num_steps=2, step_size=0.05)
robust = functools.partial(SimpleNet, attacker=attacker)(num_classes=10).train()
calls = []
perturb = attacker.perturb
attacker.perturb = lambda model, x: calls.append(len(x)) or perturb(model, x)
loss = F.cross_entropy(robust(torch.randn(4, 3, 32, 32)), torch.arange(4))
loss.backward()
assert calls == [2] and robust.training and robust.features[0].weight.grad is not None

# Both transform pipelines on a uint8 RGB image.
img = np.random.default_rng(0).integers(0, 256, (128, 170, 3), dtype=np.uint8)
for pipeline in (get_train_transforms(), get_val_transforms()):
    out = pipeline(img)
    assert out.shape == (3, 128, 128) and out.dtype == torch.float32, out.shape
print("conformance ok")
"""


def test_student_code_imports_only_allowed_modules():
    tree = ast.parse(STUDENT_CODE.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= ALLOWED_IMPORTS, imported - ALLOWED_IMPORTS


def test_student_code_alone_runs_the_course_checks(tmp_path):
    shutil.copy(STUDENT_CODE, tmp_path / "student_code.py")
    out = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0 and "conformance ok" in out.stdout, out.stderr[-3000:]
