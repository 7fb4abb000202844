"""Shared fixtures: single-threaded tests (restored afterwards) and a tiny fake MNIST on disk.

The models here are tiny, so intra-op threads gain nothing; on a shared 2-core machine,
OpenMP threads waiting at barriers for descheduled peers made these tests about 10x slower
(8.5 min instead of under a minute, measured).  Scoped per module so the module-scoped
training fixtures run under the limit too.
"""
import pytest
import torch
from threadpoolctl import threadpool_limits


@pytest.fixture(scope="module", autouse=True)
def single_threaded():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(before)


def _write_idx(path, array, magic):
    import numpy as np

    header = np.array([magic, *array.shape], dtype=">i4").tobytes()
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_fake_mnist(root, n_train=300, n_test=100):
    """A tiny MNIST in torchvision's raw idx layout (real loading code path, fake pixels)."""
    import numpy as np

    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        images = np.zeros((n, 28, 28), np.uint8)
        for i, c in enumerate(labels):  # class c lights up a class-specific band: learnable
            images[i, 2 * c + 4:2 * c + 7, 4:24] = 255
        images = np.clip(images + rng.integers(0, 40, images.shape), 0, 255)
        _write_idx(raw / f"{split}-images-idx3-ubyte", images, 2051)
        _write_idx(raw / f"{split}-labels-idx1-ubyte", labels, 2049)
    return root



@pytest.fixture
def fake_mnist(tmp_path):
    """Root of a tiny MNIST (300 train, 100 test) in torchvision's raw layout."""
    return write_fake_mnist(tmp_path / "mnist_root")
