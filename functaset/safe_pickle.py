"""Load functaset ``.pkl`` files without ever running code from them.

The course files are ``joblib.dump`` output: a pickle stream in which every numpy array
is a ``joblib.numpy_pickle.NumpyArrayWrapper`` header (subclass, shape, order, dtype)
followed by the array's raw bytes *outside* the pickle opcodes.  Plain ``pickle.dump``
files instead rebuild arrays with ``numpy._core.multiarray._reconstruct``.  This module
reads both through an allow-list unpickler:

* allowed globals: ``numpy.ndarray``, ``numpy.dtype``, ``numpy(._)core.multiarray``
  ``_reconstruct``/``scalar`` (object dtypes refused) and joblib's array header, which is
  mapped to a local stand-in that only holds its attributes;
* everything else (``os.system``, ``builtins.eval``, any class) raises :class:`UserError`
  naming the file *before* it could be called;
* compressed joblib files (zlib, gzip, bz2, xz, lzma) are decompressed with the stdlib.
"""
from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import pickle
import zlib

import numpy as np

from common.errors import UserError

_NUMPY_CORE = ("numpy.core.multiarray", "numpy._core.multiarray")
_MAGIC = [(b"\x1f\x8b", gzip.decompress), (b"BZh", bz2.decompress), (b"\xfd7zXZ", lzma.decompress),
          (b"\x5d\x00\x00", lzma.decompress), (b"\x78", zlib.decompress)]


class _JoblibArrayHeader:
    """Inert stand-in for joblib's NumpyArrayWrapper: the unpickler only sets its attributes."""


def _checked_dtype(*args) -> np.dtype:
    dtype = np.dtype(*args)
    if dtype.hasobject:
        raise pickle.UnpicklingError("arrays of Python objects are not allowed")
    return dtype


def _checked_reconstruct(subclass, shape, typecode):
    if subclass is not np.ndarray:
        raise pickle.UnpicklingError(f"array subclass {subclass!r} is not allowed")
    return np.ndarray.__new__(np.ndarray, shape, _checked_dtype(typecode))


def _checked_scalar(dtype, data=None):
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes):
        raise pickle.UnpicklingError("only numeric numpy scalars are allowed")
    return np.frombuffer(data, dtype=dtype, count=1)[0]


def _checked_frombuffer(buf, dtype, shape, order):
    """Protocol-5 arrays: ``numpy._core.numeric._frombuffer`` with a numeric dtype."""
    array = np.frombuffer(bytes(buf), dtype=_checked_dtype(dtype)).copy()
    return array.reshape(shape, order="F" if order == "F" else "C")


def _latin1_bytes(text, encoding="latin1"):
    """Protocol-2 pickles spell bytes as ``_codecs.encode(str, 'latin1')``; nothing else is accepted."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("only _codecs.encode(str, 'latin1') is allowed")
    return text.encode("latin1")


_ALLOWED = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): _checked_dtype,
            ("_codecs", "encode"): _latin1_bytes,
            ("joblib.numpy_pickle", "NumpyArrayWrapper"): _JoblibArrayHeader}
for _mod in _NUMPY_CORE:
    _ALLOWED[(_mod, "_reconstruct")] = _checked_reconstruct
    _ALLOWED[(_mod, "scalar")] = _checked_scalar
    _ALLOWED[(_mod.replace("multiarray", "numeric"), "_frombuffer")] = _checked_frombuffer


class AllowListUnpickler(pickle._Unpickler):  # the pure-Python unpickler lets us hook BUILD
    """Unpickler that resolves only allow-listed globals and reads joblib's inline arrays."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"global '{module}.{name}' is not on the allow-list") from None

    def load_build(self):
        super().load_build()
        if isinstance(self.stack[-1], _JoblibArrayHeader):
            self.stack[-1] = self._read_joblib_array(self.stack[-1])

    dispatch[pickle.BUILD[0]] = load_build

    def _read_joblib_array(self, header: _JoblibArrayHeader) -> np.ndarray:
        """The raw bytes that follow a NumpyArrayWrapper, as joblib's read_array lays them out."""
        dtype, shape = getattr(header, "dtype", None), tuple(getattr(header, "shape", ()))
        if getattr(header, "subclass", None) is not np.ndarray or not isinstance(dtype, np.dtype):
            raise pickle.UnpicklingError("malformed joblib array header")
        if dtype.hasobject or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise pickle.UnpicklingError("joblib array of objects or with a bad shape")
        if getattr(header, "numpy_array_alignment_bytes", None) is not None:
            pad = int.from_bytes(self._file_read(1), "little")
            self._file_read(pad)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        data = self._file_read(nbytes)
        if len(data) != nbytes:
            raise pickle.UnpicklingError("file ends inside an array")
        array = np.frombuffer(data, dtype=dtype).copy()
        if getattr(header, "order", "C") == "F":
            return array.reshape(shape[::-1]).transpose()
        return array.reshape(shape)


def _decompressed(raw: bytes) -> bytes:
    """joblib may compress the whole stream; pickles start with the PROTO opcode 0x80."""
    if raw[:1] == b"\x80":
        return raw
    for magic, decompress in _MAGIC:
        if raw.startswith(magic):
            return decompress(raw)
    return raw


def safe_load(path: str | os.PathLike):
    """Unpickle ``path`` (joblib or plain pickle) through the allow-list; UserError on anything else."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
        return AllowListUnpickler(io.BytesIO(_decompressed(raw))).load()
    except OSError as err:
        raise UserError(f"cannot read functaset file {path}: {err.strerror or err}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, KeyError, IndexError,
            zlib.error, lzma.LZMAError, gzip.BadGzipFile) as err:
        raise UserError(f"refused to load {path}: {err}. Functaset files may hold only numpy arrays, dicts, "
                        "lists, ints, floats and strings; re-create the file (python -m "
                        "functaset.make_functaset) or get the course copy") from None
