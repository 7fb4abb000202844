"""Toy data layout, OpenCV loading (RGB order), class names, course transforms."""
from __future__ import annotations

import random

import cv2
import numpy as np
import pytest
import torch

from common.errors import UserError
from miniplaces.custom_dataloader import MiniPlacesLoader, data_label
from miniplaces.custom_transforms import IMAGENET_MEAN, get_train_transforms, get_val_transforms
from miniplaces.toy_data import make_toy_miniplaces


def test_toy_data_has_the_real_layout(toy_root):
    train = (toy_root / "train.txt").read_text().split("\n")
    val = (toy_root / "val.txt").read_text().split("\n")
    assert len([line for line in train if line]) == 16 and len([line for line in val if line]) == 8
    rel, label = train[0].split()
    assert rel.startswith("train/") and len(rel.split("/")) == 4 and rel.endswith(".jpg") and label == "0"
    assert val[0].split()[0].startswith("val/")
    img = cv2.imread(str(toy_root / "images" / rel))
    assert img.shape == (32, 32, 3)
    assert "not MiniPlaces" in data_label(toy_root)


def test_toy_data_is_deterministic_and_refuses_real_data(tmp_path, toy_root):
    again = make_toy_miniplaces(tmp_path / "again", classes=4, train_per_class=4, val_per_class=2, size=32, seed=0)
    assert (again / "train.txt").read_text() == (toy_root / "train.txt").read_text()
    first = (toy_root / "train.txt").read_text().split()[0]
    assert (again / "images" / first).read_bytes() == (toy_root / "images" / first).read_bytes()
    real = tmp_path / "real"
    real.mkdir()
    (real / "train.txt").write_text("train/a/abbey/00000001.jpg 0\n")
    with pytest.raises(UserError, match="not toy data"):
        make_toy_miniplaces(real, classes=2, train_per_class=1, val_per_class=1, size=16)


def test_loader_reads_rgb_and_class_names(tmp_path):
    root = tmp_path / "mp"
    (root / "images" / "train" / "a" / "abbey").mkdir(parents=True)
    (root / "images" / "val").mkdir(parents=True)
    red_bgr = np.zeros((8, 8, 3), np.uint8)
    red_bgr[..., 2] = 255  # OpenCV stores BGR: this file is pure red
    cv2.imwrite(str(root / "images" / "train" / "a" / "abbey" / "00000001.png"), red_bgr)
    cv2.imwrite(str(root / "images" / "val" / "00000001.png"), red_bgr)
    (root / "train.txt").write_text("train/a/abbey/00000001.png 1\n")
    (root / "val.txt").write_text("\nval/00000001.png 0\n")
    ds = MiniPlacesLoader(root, "train", transforms=None, num_classes=3)
    img, label = ds[0]
    assert label == 1 and img.shape == (8, 8, 3) and img[0, 0].tolist() == [255, 0, 0]
    assert ds.classes[1] == "abbey" and ds.classes[0] == "class 0"
    assert len(MiniPlacesLoader(root, "val", num_classes=3)) == 1  # blank lines are skipped
    with pytest.raises(UserError, match="train.txt:1: label 1 is outside 0..0"):
        MiniPlacesLoader(root, "train", num_classes=1)
    with pytest.raises(UserError, match="data folder not found"):
        MiniPlacesLoader(tmp_path / "nowhere")


def test_course_transforms_shapes_and_normalisation():
    random.seed(0)
    img = np.full((128, 170, 3), 255, np.uint8)
    img[:, :, 1] = 0
    train = get_train_transforms()(img)
    val = get_val_transforms()(img)
    assert train.shape == (3, 128, 128) and val.shape == (3, 128, 128) and val.dtype == torch.float32
    # Val: resize (short side 144) + centre crop; a constant image maps to ((v/255) - mean) / std.
    expected = (torch.tensor([1.0, 0.0, 1.0]) - torch.tensor(IMAGENET_MEAN)) / torch.tensor((0.229, 0.224, 0.225))
    torch.testing.assert_close(val[:, 64, 64], expected, atol=1e-4, rtol=0)
    # Train augmentation is random: two draws differ (rotation/crop/colour jitter).
    varied = np.random.default_rng(0).integers(0, 255, (144, 144, 3), dtype=np.uint8)
    t = get_train_transforms()
    assert not torch.equal(t(varied), t(varied))
    assert torch.equal(get_val_transforms()(varied), get_val_transforms()(varied))
