"""Datasets and the fixed validation split."""
import pytest
import torch

from autoencoders.data import Normalizer, _carve_val, load_dataset
from common.images import to_unit
from common.errors import UserError


def test_to_unit_maps_uint8_pixels_to_0_1():
    pixels = torch.tensor([0, 51, 255], dtype=torch.uint8)
    assert torch.allclose(to_unit(pixels), torch.tensor([0.0, 0.2, 1.0]))


def test_val_split_is_fixed_and_disjoint():
    x, y = torch.arange(100).view(100, 1, 1, 1), torch.arange(100)
    a, b = _carve_val(x, y, 10), _carve_val(x, y, 10)
    assert torch.equal(a["val"][1], b["val"][1])
    assert not set(a["val"][1].tolist()) & set(a["train"][1].tolist())
    assert len(a["train"][1]) == 90


def test_missing_real_dataset_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="MNIST not found.*--download"):
        load_dataset("mnist", str(tmp_path / "nowhere"))
    with pytest.raises(UserError, match="CIFAR10 not found"):
        load_dataset("cifar10", str(tmp_path / "nowhere"))


def test_corrupted_cifar_folder_is_not_reported_as_missing(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"):
        (folder / name).write_bytes(b"truncated")  # present, but fails torchvision's md5 check
    with pytest.raises(UserError, match="CIFAR10 under .* is incomplete or corrupted.*delete that folder") as err:
        load_dataset("cifar10", str(tmp_path))
    assert "not found" not in str(err.value)


def test_embedded_datasets_are_labelled_and_normalised():
    digits = load_dataset("digits")
    assert digits.channels == 1 and digits.size == 28 and "not MNIST" in digits.label
    toy = load_dataset("toy-cifar", toy_per_class=5)
    assert toy.channels == 3 and toy.size == 32 and "not" in toy.label
    assert len(toy.splits["train"][1]) == 50 and len(toy.class_names) == 10
    norm = Normalizer(digits.mean, digits.std, torch.device("cpu"))
    xs = norm(digits.splits["train"][0].float() / 255)
    assert xs.mean().abs() < 1e-3 and (xs.std() - 1).abs() < 1e-2


def test_real_mnist_loading_path(fake_mnist):
    data = load_dataset("mnist", str(fake_mnist), val_size=50)
    assert [len(data.splits[s][1]) for s in ("train", "val", "test")] == [250, 50, 100]
    assert data.splits["train"][0].shape[1:] == (1, 28, 28) and data.splits["train"][0].dtype == torch.uint8
    assert data.mean == (0.1307,) and data.std == (0.3081,) and data.label.startswith("MNIST")
    with pytest.raises(UserError, match="--val-size"):
        load_dataset("mnist", str(fake_mnist), val_size=300)
