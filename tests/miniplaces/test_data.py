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
    ds = MiniPlacesLoader(root, split="train", transforms=None, num_classes=3)
    img, label = ds[0]
    assert label == 1 and img.shape == (8, 8, 3) and img[0, 0].tolist() == [255, 0, 0]
    assert ds.classes[1] == "abbey" and ds.classes[0] == "class 0"
    assert len(MiniPlacesLoader(root, split="val", num_classes=3)) == 1  # blank lines are skipped
    with pytest.raises(UserError, match="train.txt:1: label 1 is outside 0..0"):
        MiniPlacesLoader(root, split="train", num_classes=1)
    with pytest.raises(UserError, match="data folder not found"):
        MiniPlacesLoader(tmp_path / "nowhere")


def test_loader_has_the_course_signature_test_split_and_label_file(tmp_path, toy_root):
    """Course order (root_folder, label_file, num_classes, split, transforms); test lines may lack labels."""
    import inspect

    params = list(inspect.signature(MiniPlacesLoader).parameters)
    assert params == ["root_folder", "label_file", "num_classes", "split", "transforms"]
    first_val = (toy_root / "val.txt").read_text().split()[0]
    (tmp_path / "test.txt").write_text(f"{first_val}\n")
    import shutil

    shutil.copytree(toy_root / "images", tmp_path / "images")
    test = MiniPlacesLoader(tmp_path, None, 4, "test")
    assert len(test) == 1 and test[0][1] == -1 and test[0][0].shape == (32, 32, 3)
    custom = MiniPlacesLoader(tmp_path, str(toy_root / "val.txt"), 4, "val")
    assert len(custom) == 8 and custom.file_label_list[0][0].endswith(first_val)
    mapping = MiniPlacesLoader(toy_root, None, 4, "train").get_index_mapping()
    assert sorted(mapping) == ["0", "1", "2", "3"] and all(mapping.values())


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


def test_scale_draws_the_course_interpolations():
    """Scale picks nearest(-exact)/bilinear/bicubic at random per image, each equal to cv2.resize with it."""
    from miniplaces.custom_transforms import Scale

    img = np.random.default_rng(1).integers(0, 255, (40, 60, 3), dtype=np.uint8)
    refs = [cv2.resize(img, (75, 50), interpolation=i)
            for i in (cv2.INTER_NEAREST_EXACT, cv2.INTER_LINEAR, cv2.INTER_CUBIC)]
    random.seed(0)
    seen = set()
    for _ in range(30):
        out = Scale(50)(img)
        matches = [k for k, ref in enumerate(refs) if np.array_equal(out, ref)]
        assert len(matches) == 1
        seen.add(matches[0])
    assert seen == {0, 1, 2}
    assert np.array_equal(Scale(50, interpolations=None)(img), refs[1])  # None: bilinear only


@pytest.mark.parametrize("w,h,degree", [(144, 144, 15), (144, 200, -9), (300, 100, 14), (100, 300, 3.5)])
def test_rotation_keeps_the_largest_rectangle_inside_the_rotated_image(w, h, degree):
    """The kept rectangle's corners, rotated back, lie inside the source image, and a constant image stays
    constant (no border pixels), as with the course's rotate-and-crop."""
    import math

    from miniplaces.student_code import RandomRotate, _rotated_inner_size

    wr, hr = _rotated_inner_size(w, h, degree)
    assert 0 < wr <= w and 0 < hr <= h
    a = math.radians(degree)
    for sx, sy in ((-1, -1), (-1, 1), (1, -1), (1, 1)):
        x, y = sx * wr / 2, sy * hr / 2
        u, v = x * math.cos(a) - y * math.sin(a), x * math.sin(a) + y * math.cos(a)
        assert abs(u) <= w / 2 + 1e-6 and abs(v) <= h / 2 + 1e-6
    # Slightly larger rectangles would not fit: the corners touch the image border.
    corners = [(sx * wr / 2 * 1.01, sy * hr / 2 * 1.01) for sx in (-1, 1) for sy in (-1, 1)]
    assert any(max(abs(x * math.cos(a) - y * math.sin(a)) - w / 2, abs(x * math.sin(a) + y * math.cos(a)) - h / 2) > 0
               for x, y in corners)
    random.seed(3)
    flat = np.full((h, w, 3), 200, np.uint8)
    for _ in range(5):
        out = RandomRotate(15)(flat)
        # Only the outermost pixels may blend with the border (interpolation); no black corners remain.
        assert out.shape[0] <= h and out.shape[1] <= w and (out[2:-2, 2:-2] == 200).all() and out.min() > 100


def test_random_color_scales_each_channel_within_range():
    from miniplaces.custom_transforms import RandomColor

    random.seed(0)
    out = RandomColor(0.15)(np.full((4, 4, 3), 100, np.uint8))
    values = out[0, 0].astype(int)
    assert (out == out[0, 0]).all() and all(84 <= v <= 115 for v in values) and len(set(values)) > 1


def test_helper_modules_keep_the_course_names_and_signatures():
    import inspect

    from miniplaces import custom_blocks, custom_transforms

    def params(obj):
        return list(inspect.signature(obj).parameters)

    assert params(custom_blocks.PatchEmbed) == ["kernel_size", "stride", "padding", "in_chans", "embed_dim"]
    assert params(custom_blocks.MLP) == ["in_features", "hidden_features", "out_features", "act_layer", "drop"]
    assert params(custom_blocks.window_partition) == ["x", "window_size"]
    assert params(custom_blocks.window_unpartition) == ["windows", "window_size", "pad_hw", "hw"]
    assert params(custom_blocks.drop_path) == ["x", "drop_prob", "training"]
    assert params(custom_blocks.DropPath) == ["drop_prob"]
    assert params(custom_blocks.trunc_normal_) == ["tensor", "mean", "std", "a", "b"]
    assert params(custom_transforms.Scale) == ["size", "interpolations"]
    assert params(custom_transforms.RandomSizedCrop) == ["size", "interpolations", "area_range", "ratio_range",
                                                         "num_trials"]
    assert params(custom_transforms.RandomRotate) == ["degree_range", "interpolations"]
    assert params(custom_transforms.RandomColor) == ["color_range"]
    assert params(custom_transforms.Normalize) == params(custom_transforms.Denormalize) == ["mean", "std", "scale"]
    for name in ("Compose", "RandomHorizontalFlip", "CenterCrop", "ToTensor"):
        assert hasattr(custom_transforms, name)
    embed = custom_blocks.PatchEmbed(kernel_size=(8, 8), stride=(8, 8), in_chans=3, embed_dim=16)
    assert embed(torch.zeros(2, 3, 32, 32)).shape == (2, 4, 4, 16)
    w = torch.empty(2000)
    custom_blocks.trunc_normal_(w, std=0.02)
    assert w.abs().max() <= 2.0 and 0.015 < w.std() < 0.025  # truncation at +-2 (absolute), std kept


def test_toy_sized_pipelines_match_student_code_at_128():
    """main.py --image-size N uses the course pipelines scaled to N; at 128 they are student_code's."""
    from miniplaces.custom_transforms import sized_transforms

    assert repr(sized_transforms(True, 128)) == repr(get_train_transforms())
    assert repr(sized_transforms(False, 128)) == repr(get_val_transforms())
    img = np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)
    assert torch.equal(sized_transforms(False, 128)(img), get_val_transforms()(img))
    assert sized_transforms(True, 32)(img).shape == (3, 32, 32) and "36" in repr(sized_transforms(False, 32))
