"""Device/precision selection, seeding, embedded data and figure helpers."""
import json
import random

import numpy as np
import pytest
import torch

from common import device as dev
from common.embedded import digits, samples, toy_scenes
from common.errors import UserError
from common import plotting


def test_cpu_precision_is_a_noop_and_bad_devices_are_user_errors():
    prec = dev.choose_precision(torch.device("cpu"), amp=True)
    assert not prec.enabled and not prec.use_scaler and prec.name == "fp32"
    with prec.autocast():
        assert torch.ones(2, 2).matmul(torch.ones(2, 2)).dtype == torch.float32
    assert dev.resolve_device("cpu").type == "cpu"
    with pytest.raises(UserError):
        dev.resolve_device("banana")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="no CUDA"):
            dev.resolve_device("cuda:0")
        assert dev.resolve_device("auto").type in {"cpu", "mps"}


@pytest.mark.gpu
def test_cuda_amp_picks_bf16_or_fp16_with_scaler():
    prec = dev.choose_precision(torch.device("cuda"), amp=True)
    assert prec.dtype in (torch.bfloat16, torch.float16)
    assert prec.use_scaler == (prec.dtype == torch.float16)
    with prec.autocast():
        assert torch.ones(8, 8, device="cuda").matmul(torch.ones(8, 8, device="cuda")).dtype == prec.dtype


def test_rng_state_round_trip():
    dev.seed_everything(5)
    state = dev.capture_rng_state()
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    dev.seed_everything(99)
    dev.restore_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a


def test_digits_are_mnist_shaped_and_splits_disjoint():
    parts = {s: digits.DigitsMNIST(s) for s in ("train", "val", "test")}
    assert sum(len(p) for p in parts.values()) == 1797
    x, y = parts["train"][0]
    assert x.shape == (1, 28, 28) and 0 <= x.min() and x.max() <= 1 and 0 <= y <= 9
    idx = {s: set(digits.split_indices(1797, s)) for s in parts}
    assert not (idx["train"] & idx["val"]) and not (idx["train"] & idx["test"]) and not (idx["val"] & idx["test"])


def test_toy_scenes_deterministic_and_learnable_by_colour_and_shape():
    a, la = toy_scenes.generate(6, 4, 32, seed=1)
    b, _ = toy_scenes.generate(6, 4, 32, seed=1)
    c, _ = toy_scenes.generate(6, 4, 32, seed=2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.shape == (24, 32, 32, 3) and a.dtype == np.uint8 and sorted(set(la)) == list(range(6))
    specs = {toy_scenes.class_spec(k, 100) for k in range(100)}
    assert len(specs) == 100  # every class has its own (shape, hue) signature
    ds = toy_scenes.ToyCIFAR("val", per_class=2)
    assert len(ds) == 20 and ds.data.shape[1:] == (32, 32, 3) and len(ds.classes) == 10


def test_sample_photos_and_text_ship_with_libraries():
    photos = samples.sample_photo_paths()
    assert {"grace_hopper", "china", "flower"} <= set(photos)
    text = samples.english_text()
    assert len(text) > 300_000 and "the" in text


def test_figures_have_captions_and_are_pngs(tmp_path):
    history = [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.2 / e, "train_acc1": 10.0 * e,
                "val_acc1": 9.0 * e, "train_lr": 0.1} for e in range(1, 4)]
    paths = [
        plotting.plot_training_curves(history, tmp_path / "curves.png", title="t", caption="c1"),
        plotting.plot_accuracy_vs_epsilon({"std": {1e-4: 80.0, 1e-3: 20.0}}, tmp_path / "eps.png", title="t",
                                          caption="c2", clean={"std": 90.0}),
        plotting.plot_confusion_matrix([0, 1, 1], [0, 1, 0], ["cat", "dog"], tmp_path / "cm.png", title="t",
                                       caption="c3"),
        plotting.plot_image_grid(np.random.rand(3, 8, 8, 3), ["a", "b", "c"], tmp_path / "grid.png", title="t",
                                 caption="c4"),
        plotting.plot_tsne(np.random.rand(40, 5), np.arange(40) % 2, ["even", "odd"], tmp_path / "tsne.png",
                           title="t", caption="c5"),
    ]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    captions = json.loads((tmp_path / "captions.json").read_text())
    assert captions == {"curves.png": "c1", "eps.png": "c2", "cm.png": "c3", "grid.png": "c4", "tsne.png": "c5"}
    assert "| a | b |" in plotting.markdown_table([{"a": 1, "b": 2.5}], ["a", "b"])
