"""Datasets, the fixed validation split and device-resident batches."""
import pytest
import torch

from autoencoders.data import DeviceBatches, Normalizer, _carve_val, load_dataset
from common.errors import UserError


def test_device_batches_cover_eval_set_once_in_order():
    x = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1).expand(10, 1, 4, 4).contiguous()
    y = torch.arange(10)
    batches = list(DeviceBatches(x, y, 4, train=False, transform=lambda b: (b,)))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    assert torch.cat([b[1] for b in batches]).tolist() == list(range(10))
    assert torch.allclose(batches[0][0][:, 0, 0, 0] * 255, torch.arange(4).float())


def test_training_batches_shuffle_drop_partial_and_reseed_per_epoch():
    x, y = torch.zeros(10, 1, 2, 2, dtype=torch.uint8), torch.arange(10)
    loader = DeviceBatches(x, y, 4, train=True, transform=lambda b: (b,), seed=3)
    assert len(loader) == 2
    epoch0 = torch.cat([b[1] for b in loader])
    assert len(epoch0) == 8 and len(set(epoch0.tolist())) == 8
    loader.sampler.set_epoch(1)
    assert torch.cat([b[1] for b in loader]).tolist() != epoch0.tolist()


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
