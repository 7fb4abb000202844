"""Load functaset ``.pkl`` files without ever running code from them.

The course files are ``joblib.dump`` output: a pickle stream in which every numpy array
is a ``joblib.numpy_pickle.NumpyArrayWrapper`` header (subclass, shape, order, dtype)
followed by the array's raw bytes *outside* the pickle opcodes.  Plain ``pickle.dump``
files instead rebuild arrays with ``numpy._core.multiarray._reconstruct``.  This module
reads both through an allow-list unpickler:

* allowed globals: ``numpy.dtype``, ``numpy(._)core.multiarray`` ``_reconstruct``/``scalar``
  and joblib's array header, which is mapped to a local stand-in that only holds its
  attributes; ``numpy.ndarray`` resolves to an inert marker (it may only be *named* as the
  class to rebuild, never called);
* object dtypes are refused when the dtype is made, before any array exists, and no array
  may declare more bytes than the file holds (a 40-byte file cannot ask for 8 GiB);
* everything else (``os.system``, ``builtins.eval``, any class) raises :class:`UserError`
  naming the file *before* it could be called, and so does any malformed stream (bad
  opcode, truncated data): one line, never a traceback;
* compressed joblib files (zlib, gzip, bz2, xz, lzma) are decompressed with the stdlib.
"""
from __future__ import annotations

import bz2
import gzip
import io
import lzma
import math
import os
import pickle
import zlib

import numpy as np

from common.errors import UserError

_NUMPY_CORE = ("numpy.core.multiarray", "numpy._core.multiarray")
_MAGIC = [(b"\x1f\x8b", gzip.decompress), (b"BZh", bz2.decompress), (b"\xfd7zXZ", lzma.decompress),
          (b"\x5d\x00\x00", lzma.decompress), (b"\x78", zlib.decompress)]


class _NdarrayMarker:
    """What ``numpy.ndarray`` resolves to: a name to compare with, not a constructor."""

    def __repr__(self) -> str:
        return "numpy.ndarray"


NDARRAY = _NdarrayMarker()


class _JoblibArrayHeader:
    """Inert stand-in for joblib's NumpyArrayWrapper: the unpickler only sets its attributes."""


def _checked_dtype(*args) -> np.dtype:
    dtype = np.dtype(*args)
    if dtype.hasobject:
        raise pickle.UnpicklingError("arrays of Python objects are not allowed")
    return dtype


def _checked_nbytes(shape, dtype: np.dtype, limit: int) -> int:
    """Bytes an array of ``shape`` needs; refuses bad shapes and more bytes than the file could hold."""
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise pickle.UnpicklingError(f"bad array shape {shape!r}")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > limit:
        raise pickle.UnpicklingError(f"an array of shape {shape} declares {nbytes:,} bytes, more than the file holds")
    return nbytes


def _checked_reconstruct(subclass, shape, typecode, *, limit: int):
    if subclass is not NDARRAY:
        raise pickle.UnpicklingError(f"array subclass {subclass!r} is not allowed")
    dtype = _checked_dtype(typecode)
    _checked_nbytes(shape, dtype, limit)
    return np.ndarray.__new__(np.ndarray, shape, dtype)


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


_ALLOWED = {("numpy", "ndarray"): NDARRAY, ("numpy", "dtype"): _checked_dtype,
            ("_codecs", "encode"): _latin1_bytes,
            ("joblib.numpy_pickle", "NumpyArrayWrapper"): _JoblibArrayHeader}
for _mod in _NUMPY_CORE:
    _ALLOWED[(_mod, "_reconstruct")] = _checked_reconstruct
    _ALLOWED[(_mod, "scalar")] = _checked_scalar
    _ALLOWED[(_mod.replace("multiarray", "numeric"), "_frombuffer")] = _checked_frombuffer


class AllowListUnpickler(pickle._Unpickler):  # the pure-Python unpickler lets us hook BUILD
    """Unpickler that resolves only allow-listed globals and reads joblib's inline arrays."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, *, max_bytes: int):
        super().__init__(file)
        self.max_bytes = max_bytes  # no array may need more bytes than this

    def find_class(self, module: str, name: str):
        try:
            found = _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"global '{module}.{name}' is not on the allow-list") from None
        if found is _checked_reconstruct:
            return lambda subclass, shape, typecode: _checked_reconstruct(subclass, shape, typecode,
                                                                          limit=self.max_bytes)
        return found

    def load_build(self):
        super().load_build()
        if isinstance(self.stack[-1], _JoblibArrayHeader):
            self.stack[-1] = self._read_joblib_array(self.stack[-1])

    dispatch[pickle.BUILD[0]] = load_build

    def _read_joblib_array(self, header: _JoblibArrayHeader) -> np.ndarray:
        """The raw bytes that follow a NumpyArrayWrapper, as joblib's read_array lays them out."""
        dtype, shape = getattr(header, "dtype", None), tuple(getattr(header, "shape", ()))
        if getattr(header, "subclass", None) is not NDARRAY or not isinstance(dtype, np.dtype):
            raise pickle.UnpicklingError("malformed joblib array header")
        if dtype.hasobject:
            raise pickle.UnpicklingError("joblib array of Python objects")
        nbytes = _checked_nbytes(shape, dtype, self.max_bytes)
        if getattr(header, "numpy_array_alignment_bytes", None) is not None:
            pad = int.from_bytes(self._file_read(1), "little")
            self._file_read(pad)
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
    except OSError as err:
        raise UserError(f"cannot read functaset file {path}: {err.strerror or err}") from None
    try:
        stream = _decompressed(raw)
        # Every array's bytes lie in the (decompressed) stream, so none can need more than its length.
        return AllowListUnpickler(io.BytesIO(stream), max_bytes=len(stream)).load()
    except Exception as err:  # noqa: BLE001 - any failure while parsing untrusted bytes means a bad file
        raise UserError(f"refused to load {path}: {_one_line(err)}. Functaset files may hold only numpy arrays, "
                        "dicts, lists, ints, floats and strings; re-create the file (python -m "
                        "functaset.make_functaset) or get the course copy") from None


def _one_line(err: Exception) -> str:
    text = " ".join(str(err).split()) or "malformed data"
    return text if isinstance(err, pickle.UnpicklingError) else f"malformed file ({type(err).__name__}: {text})"
