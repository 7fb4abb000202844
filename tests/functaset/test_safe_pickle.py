"""Malformed or hostile .pkl files: refused before anything is built (or allocated), always one line."""
import bz2
import gzip
import io
import pickle
import re
import subprocess
import sys

import joblib
import numpy as np
import pytest
from joblib.numpy_pickle import NumpyArrayWrapper
from numpy._core.numeric import _frombuffer

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


# ---- memory bombs: refused before the memory is taken ------------------------------------------------

ZERO_MIB_GZ = gzip.compress(bytes(2**20), 9)  # one gzip member of 1 MiB of zeros (~1 KB)


def _joblib_vector_parts(length: int) -> tuple[bytes, bytes]:
    """A valid joblib file of ``[{'modul': zeros(length, float32), 'label': 1}]``, less its array bytes."""
    buf = io.BytesIO()
    joblib.dump([{"modul": np.zeros(512, np.float32), "label": 1}], buf)
    raw = buf.getvalue()
    at = raw.index(b"M\x00\x02")  # BININT2 512: the array's shape
    raw = raw[:at] + b"J" + length.to_bytes(4, "little") + raw[at + 3:]  # BININT: the new length
    data = raw.index(bytes(2048))
    return raw[:data], raw[data + 2048:]


def write_bombs(folder) -> dict:
    """The issue's bombs (and three more), each small on disk; gzip members make them in milliseconds."""
    folder.mkdir(exist_ok=True)
    prefix, suffix = _joblib_vector_parts(768 * 2**20 // 4)
    files = {
        # numpy._core.numeric._frombuffer(1_500_000_000, dtype('u1'), ...): bytes(int) allocated 1.5 GB
        "frombuffer_int": pickle.dumps(_Reduce(_frombuffer, (1_500_000_000, np.dtype("u1"), (1_500_000_000,), "C")),
                                       protocol=2),
        # a valid joblib file holding a 768 MiB vector, gzipped to 0.8 MB
        "gzip_vector": gzip.compress(prefix) + ZERO_MIB_GZ * 768 + gzip.compress(suffix),
        "gzip_zeros": ZERO_MIB_GZ * 768,  # 768 MiB of zeros
        "gzip_zeros_one_member": gzip.compress(bytes(96 * 2**20), 1),  # its trailer declares the size
        "bz2_dicts": bz2.compress(b"\x80\x04](" + b"}" * (32 * 2**20) + b"e.", 9),  # 32 Mi empty dicts: 2.3 GB
    }
    for name, raw in files.items():
        (folder / f"{name}.pkl").write_bytes(raw)
    return {name: folder / f"{name}.pkl" for name in files}


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    return write_bombs(tmp_path_factory.mktemp("bombs"))


# Loads a file in a fresh interpreter and prints its peak RSS; the address space is capped at what the
# imports took plus 1 GiB, so a bomb that gets through fails with MemoryError instead of taking gigabytes.
PEAK_CHILD = """
import resource, sys
from common.errors import UserError
from functaset.safe_pickle import safe_load
size = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (size + 2**30, size + 2**30))
try:
    safe_load(sys.argv[1])
    outcome = "loaded"
except UserError as err:
    outcome = str(err)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, outcome)
"""


def _peak_bytes(path) -> tuple[int, str]:
    out = subprocess.run([sys.executable, "-c", PEAK_CHILD, str(path)], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    peak, outcome = out.split(" ", 1)
    return int(peak), outcome.strip()


@pytest.fixture(scope="module")
def baseline_peak(tmp_path_factory):
    """Peak RSS of loading a small valid file: the loader's own baseline."""
    small = tmp_path_factory.mktemp("small") / "small.pkl"
    joblib.dump([{"modul": np.ones(512, np.float32), "label": 1}] * 20, small)
    peak, outcome = _peak_bytes(small)
    assert outcome == "loaded"
    return peak


@pytest.mark.parametrize("name, message", [
    ("frombuffer_int", "_frombuffer needs bytes read from the file, not int"),
    ("gzip_vector", r"an array of shape \(201326592,\) \(805,306,368 bytes\) would take more than 64 MiB"),
    ("gzip_zeros", "invalid pickle opcode 0x00"),
    ("gzip_zeros_one_member", "the gzip trailer declares 100,663,296 bytes"),
    ("bz2_dicts", "its contents would take more than 64 MiB"),
])
def test_a_memory_bomb_is_one_line_and_peaks_within_256_mib_of_the_baseline(bombs, baseline_peak, name, message):
    peak, outcome = _peak_bytes(bombs[name])
    assert re.fullmatch(f"refused to load {re.escape(str(bombs[name]))}: .*{message}.*", outcome), outcome
    assert peak - baseline_peak < 256 * 2**20, (name, (peak - baseline_peak) / 2**20)


@pytest.mark.parametrize("raw, message", [
    (b"\x80\x05\x96" + (2**40).to_bytes(8, "little"), "a bytearray .* would take more than"),  # BYTEARRAY8 1 TiB
    (b"\x80\x04B" + (2**31 - 1).to_bytes(4, "little"), "declares 2,147,483,647 bytes, more than the file holds"),
    (b"\x80\x04\x95" + (2**40).to_bytes(8, "little"), "declares 1,099,511,627,776 bytes, more than the file holds"),
    (b"\x80\x04](" + b"\x8f" * (2**20) + b"e.", "its contents would take more than 64 MiB"),  # 1 Mi empty sets
])
def test_declared_lengths_and_cheap_opcodes_are_charged_before_allocation(tmp_path, raw, message):
    path = tmp_path / "bomb.pkl"
    path.write_bytes(raw)
    with pytest.raises(UserError, match=message):
        safe_load(path)


def test_valid_files_of_every_compression_and_protocol_load_unchanged(tmp_path):
    rng = np.random.default_rng(0)
    items = [{"modul": rng.normal(size=512).astype(np.float32), "label": i % 10} for i in range(50)]
    for compress in (0, 3, ("gzip", 3), ("bz2", 3), ("xz", 3), ("lzma", 3)):
        joblib.dump(items, tmp_path / "j.pkl", compress=compress)
        for got, want in zip(safe_load(tmp_path / "j.pkl"), items, strict=True):
            assert np.array_equal(got["modul"], want["modul"]) and got["modul"].dtype == np.float32
            assert got["label"] == want["label"]
    for protocol in (2, 4, 5):
        _dump_protocol(tmp_path / "p.pkl", items, protocol)
        loaded = safe_load(tmp_path / "p.pkl")
        assert all(np.array_equal(g["modul"], w["modul"]) for g, w in zip(loaded, items, strict=True))
        assert loaded[0]["modul"].flags.writeable
    fortran = np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3))
    _dump_protocol(tmp_path / "f.pkl", [fortran, np.float32(2.5)], 5)
    got = safe_load(tmp_path / "f.pkl")
    assert np.array_equal(got[0], fortran) and got[0].flags.f_contiguous and got[1] == np.float32(2.5)


def _dump_protocol(path, obj, protocol):
    with open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=protocol)
