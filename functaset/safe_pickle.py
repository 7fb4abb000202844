"""Load functaset ``.pkl`` files without ever running code from them, within a memory budget.

The course files are ``joblib.dump`` output: a pickle stream in which every numpy array
is a ``joblib.numpy_pickle.NumpyArrayWrapper`` header (subclass, shape, order, dtype)
followed by the array's raw bytes *outside* the pickle opcodes.  Plain ``pickle.dump``
files instead rebuild arrays with ``numpy._core.multiarray._reconstruct`` (protocol 5:
``numpy._core.numeric._frombuffer``).  This module reads both through an allow-list unpickler:

* allowed globals: ``numpy.dtype``, ``numpy(._)core.multiarray`` ``_reconstruct``/``scalar``,
  ``numpy(._)core.numeric._frombuffer`` and joblib's array header, which is mapped to a local
  stand-in that only holds its attributes; ``numpy.ndarray`` resolves to an inert marker (it
  may only be *named* as the class to rebuild, never called);
* object dtypes are refused wherever an array is made, before it exists;
* memory: the file gets a budget of ``max(64 MiB, 8 x its size)`` (see bounded_read.py).  Every
  length the stream declares (an array's shape, a bytes field, a frame) is charged before
  anything is allocated or read, every opcode is charged what the object it builds can take,
  and compressed files (zlib, gzip, bz2, xz, lzma) are inflated only as far as the reader asks;
  in an uncompressed file no length may exceed the bytes left in the file;
* everything else (``os.system``, ``builtins.eval``, any class) raises :class:`UserError`
  naming the file *before* it could be called, and so does any malformed stream (bad
  opcode, truncated data, over budget): one line, never a traceback.
"""
from __future__ import annotations

import math
import os
import pickle
import struct

import numpy as np

from common.errors import UserError
from functaset.bounded_read import BoundedReader, Budget, open_stream

_NUMPY_CORE = ("numpy.core.multiarray", "numpy._core.multiarray")
# What one opcode can build at most, in bytes: a dict, tuple or list slot (64), a memo entry
# (128), an empty set (216).  Bytes read from the stream are charged separately.
_OPCODE_COST = 64
_OPCODE_COSTS = {pickle.EMPTY_SET[0]: 256, pickle.FROZENSET[0]: 256, pickle.MEMOIZE[0]: 128,
                 pickle.BINPUT[0]: 128, pickle.LONG_BINPUT[0]: 128, pickle.PUT[0]: 128}


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


def _checked_nbytes(shape, dtype) -> tuple[tuple, int]:
    """``(shape, bytes)`` of an array; refuses shapes that are not tuples of sizes, and object dtypes."""
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise pickle.UnpicklingError(f"bad array shape {shape!r}")
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise pickle.UnpicklingError("arrays of Python objects are not allowed")
    return shape, math.prod(shape) * dtype.itemsize


def _checked_scalar(dtype, data=None):
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes):
        raise pickle.UnpicklingError("only numeric numpy scalars are allowed")
    return np.frombuffer(data, dtype=dtype, count=1)[0]


def _charging(fn, cost: int):
    def load(self):
        budget = self.budget
        budget.spent += cost
        if budget.spent > budget.limit:
            budget.charge(0)  # over the limit already: raises TooBig with the message
        fn(self)
    return load


class _Dispatch(dict):
    def __missing__(self, key: int):
        raise pickle.UnpicklingError(f"invalid pickle opcode 0x{key:02x}")


class AllowListUnpickler(pickle._Unpickler):  # the pure-Python unpickler lets us hook single opcodes
    """Unpickler that resolves only allow-listed globals, reads joblib's inline arrays, and
    charges every allocation to ``reader.budget`` before it happens."""

    dispatch = _Dispatch(pickle._Unpickler.dispatch)

    def __init__(self, reader: BoundedReader):
        super().__init__(reader)
        self.reader, self.budget = reader, reader.budget

    def find_class(self, module: str, name: str):
        try:
            found = _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"global '{module}.{name}' is not on the allow-list") from None
        if isinstance(found, str):  # a method of this unpickler: it charges the budget
            return getattr(self, found)
        return found

    def _reconstruct(self, subclass, shape, typecode):
        """numpy's ``_reconstruct``: an empty array (numpy writes shape (0,)) that BUILD then fills."""
        if subclass is not NDARRAY:
            raise pickle.UnpicklingError(f"array subclass {subclass!r} is not allowed")
        dtype = _checked_dtype(typecode)
        shape, nbytes = _checked_nbytes(shape, dtype)
        self.reader.reserve(nbytes, f"an array of shape {shape}")  # its bytes must follow in the file
        return np.ndarray.__new__(np.ndarray, shape, dtype)

    def _frombuffer(self, buf, dtype, shape, order):
        """Protocol 5 arrays: ``numpy._core.numeric._frombuffer`` over bytes read from the stream."""
        if not isinstance(buf, (bytes, bytearray)):
            raise pickle.UnpicklingError(f"_frombuffer needs bytes read from the file, not {type(buf).__name__}")
        shape, nbytes = _checked_nbytes(shape, dtype)
        if nbytes != len(buf):
            raise pickle.UnpicklingError(f"an array of shape {shape} needs {nbytes:,} bytes, "
                                         f"the file gives {len(buf):,}")
        array = np.frombuffer(buf, dtype=dtype)  # over a bytearray: writable, no copy
        if isinstance(buf, bytes):  # read-only: copy, as numpy's own loader gives a writable array
            self.budget.charge(nbytes, "an array")
            array = array.copy()
        return array.reshape(shape, order="F" if order == "F" else "C")

    def _latin1_bytes(self, text, encoding="latin1"):
        """Protocol-2 pickles spell bytes as ``_codecs.encode(str, 'latin1')``; nothing else is accepted."""
        if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
            raise pickle.UnpicklingError("only _codecs.encode(str, 'latin1') is allowed")
        self.budget.charge(len(text), "a bytes field")
        return text.encode("latin1")

    def load_bytearray8(self):
        """As the stdlib's, but the declared length is charged before the bytearray is allocated."""
        (size,) = struct.unpack("<Q", self.read(8))
        self.budget.charge(size, f"a bytearray ({size:,} bytes)")
        buffer = bytearray(size)
        self.readinto(buffer)
        self.append(buffer)

    def load_build(self):
        state, inst = self.stack[-1], self.stack[-2]
        if isinstance(inst, np.ndarray):  # numpy's __setstate__: (version, shape, dtype, fortran, raw bytes)
            if not (isinstance(state, tuple) and len(state) == 5 and isinstance(state[4], (bytes, str))):
                raise pickle.UnpicklingError("malformed array state")
            shape, nbytes = _checked_nbytes(state[1], state[2])
            if nbytes != len(state[4]):
                raise pickle.UnpicklingError(f"an array of shape {shape} needs {nbytes:,} bytes, "
                                             f"the file gives {len(state[4]):,}")
            self.budget.charge(nbytes, "an array")
        super().load_build()
        if isinstance(self.stack[-1], _JoblibArrayHeader):
            self.stack[-1] = self._read_joblib_array(self.stack[-1])

    def _read_joblib_array(self, header: _JoblibArrayHeader) -> np.ndarray:
        """The raw bytes that follow a NumpyArrayWrapper, as joblib's read_array lays them out."""
        dtype, shape = getattr(header, "dtype", None), getattr(header, "shape", ())
        if getattr(header, "subclass", None) is not NDARRAY or not isinstance(dtype, np.dtype):
            raise pickle.UnpicklingError("malformed joblib array header")
        shape, nbytes = _checked_nbytes(shape, dtype)
        self.reader.reserve(nbytes, f"an array of shape {shape}")  # before the allocation
        if getattr(header, "numpy_array_alignment_bytes", None) is not None:
            pad = int.from_bytes(self._file_read(1), "little")
            self._file_read(pad)
        data = bytearray(nbytes)
        if self.reader.readinto(data) != nbytes:
            raise pickle.UnpicklingError("file ends inside an array")
        array = np.frombuffer(data, dtype=dtype)
        if getattr(header, "order", "C") == "F":
            return array.reshape(shape[::-1]).transpose()
        return array.reshape(shape)


for _key, _load in list(AllowListUnpickler.dispatch.items()):
    _load = {pickle.BUILD[0]: AllowListUnpickler.load_build,
             pickle.BYTEARRAY8[0]: AllowListUnpickler.load_bytearray8}.get(_key, _load)
    AllowListUnpickler.dispatch[_key] = _charging(_load, _OPCODE_COSTS.get(_key, _OPCODE_COST))

# Globals a file may name; a string is the name of an AllowListUnpickler method (it charges the budget).
_ALLOWED = {("numpy", "ndarray"): NDARRAY, ("numpy", "dtype"): _checked_dtype,
            ("_codecs", "encode"): "_latin1_bytes",
            ("joblib.numpy_pickle", "NumpyArrayWrapper"): _JoblibArrayHeader}
for _mod in _NUMPY_CORE:
    _ALLOWED[(_mod, "_reconstruct")] = "_reconstruct"
    _ALLOWED[(_mod, "scalar")] = _checked_scalar
    _ALLOWED[(_mod.replace("multiarray", "numeric"), "_frombuffer")] = "_frombuffer"


def safe_load(path: str | os.PathLike):
    """Unpickle ``path`` (joblib or plain pickle) through the allow-list; UserError on anything else."""
    path = os.fspath(path)
    try:
        fh = open(path, "rb")
        size = os.fstat(fh.fileno()).st_size
    except OSError as err:
        raise UserError(f"cannot read functaset file {path}: {err.strerror or err}") from None
    with fh:
        try:
            budget = Budget(size)
            stream, compressed = open_stream(fh, budget)
            reader = BoundedReader(stream, budget, exact_size=None if compressed else size)
            return AllowListUnpickler(reader).load()
        except Exception as err:  # noqa: BLE001 - any failure while parsing untrusted bytes means a bad file
            raise UserError(f"refused to load {path}: {_one_line(err)}. Functaset files may hold only numpy "
                            "arrays, dicts, lists, ints, floats and strings; re-create the file (python -m "
                            "functaset.make_functaset) or get the course copy") from None


def _one_line(err: Exception) -> str:
    text = " ".join(str(err).split()) or "malformed data"
    return text if isinstance(err, pickle.UnpicklingError) else f"malformed file ({type(err).__name__}: {text})"
