"""A tiny fake MNIST on disk in torchvision's raw layout (real loading path, fake pixels)."""
import pytest


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
