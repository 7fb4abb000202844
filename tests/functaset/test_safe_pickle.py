"""Malformed or hostile .pkl files: refused before anything is built, always one line."""
import pickle

import joblib
import numpy as np
import pytest
from joblib.numpy_pickle import NumpyArrayWrapper

from common.errors import UserError
from functaset.safe_pickle import safe_load
from functaset.utils import load_split


class _Reduce:
    """Pickles as ``func(*args)``: lets a test write any call into a stream."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _dump(path, obj):
    with open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=2)
    return path


def _reconstruct():
    return np.ndarray.__reduce__(np.zeros(1))[0]  # numpy's own _reconstruct, under whichever module name


def test_numpy_ndarray_cannot_be_called(tmp_path):
    """``numpy.ndarray((3,), 'O')`` would build an object array (and ``(2**33,)`` 8 GiB) directly."""
    _dump(tmp_path / "fmnist_train.pkl", [{"modul": _Reduce(np.ndarray, ((3,), "O")), "label": 0}])
    with pytest.raises(UserError, match="refused to load") as err:
        load_split(tmp_path, "train", modul_dim=3)
    assert "NaN" not in str(err.value)


def test_object_dtype_refused_before_building(tmp_path):
    path = _dump(tmp_path / "x.pkl", _Reduce(_reconstruct(), (np.ndarray, (3,), "O")))
    with pytest.raises(UserError, match="arrays of Python objects are not allowed"):
        safe_load(path)


def test_declared_size_bounded_by_the_file(tmp_path):
    path = _dump(tmp_path / "x.pkl", _Reduce(_reconstruct(), (np.ndarray, (2 ** 33,), "u1")))
    assert path.stat().st_size < 200
    with pytest.raises(UserError, match="declares 8,589,934,592 bytes, more than the file holds"):
        safe_load(path)


def test_joblib_header_size_bounded_by_the_file(tmp_path):
    header = NumpyArrayWrapper(np.ndarray, (2 ** 31, 4), "C", np.dtype("float32"))
    path = _dump(tmp_path / "x.pkl", [header])
    with pytest.raises(UserError, match="declares 34,359,738,368 bytes"):
        safe_load(path)


@pytest.mark.parametrize("raw", [b"\x80\x02J\x01", b"\x80\x02\xff", b"\x80\x02]q\x00(K\x01", b""])
def test_malformed_streams_give_one_line(tmp_path, raw):
    path = tmp_path / "bad.pkl"
    path.write_bytes(raw)  # truncated BININT (struct.error), unknown opcode, unfinished list, empty file
    with pytest.raises(UserError, match=r"refused to load .*bad\.pkl") as err:
        safe_load(path)
    assert "\n" not in str(err.value)


def test_valid_joblib_and_pickle_files_still_load(tmp_path):
    items = [{"modul": np.arange(4, dtype=np.float32) + i, "label": i} for i in range(3)]
    joblib.dump(items, tmp_path / "a.pkl")
    joblib.dump(items, tmp_path / "b.pkl", compress=3)
    _dump(tmp_path / "c.pkl", items)
    for name in ("a.pkl", "b.pkl", "c.pkl"):
        loaded = safe_load(tmp_path / name)
        for got, want in zip(loaded, items):
            np.testing.assert_array_equal(got["modul"], want["modul"])
            assert got["label"] == want["label"]
