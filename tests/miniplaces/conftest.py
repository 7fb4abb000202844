"""A tiny toy MiniPlaces folder (4 classes, 32x32 JPEGs) shared by the miniplaces tests."""
from __future__ import annotations

import pytest

from miniplaces.toy_data import make_toy_miniplaces


@pytest.fixture(scope="session")
def toy_root(tmp_path_factory):
    return make_toy_miniplaces(tmp_path_factory.mktemp("toy_miniplaces"), classes=4, train_per_class=4,
                               val_per_class=2, size=32, seed=0)
