"""Read a (possibly compressed) file under a memory budget fixed before anything is allocated.

The budget of a file is ``max(64 MiB, 8 x its size on disk)``: a valid functaset is charged
2-3.2x its size (joblib 2.0-2.3x, plain pickle protocol 2 3.2x: the bytes, one Python object
per pickle opcode, the arrays), while a 1 MB
compression bomb that would expand to gigabytes is stopped at 64 MiB.  Every byte read and
every allocation the unpickler makes is charged *before* it happens, so a refused file never
holds more than the budget.  Compressed files (joblib's zlib, gzip, bz2, xz, lzma) are
decompressed in steps no larger than the bytes the reader asked for, never as a whole.
"""
from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import pickle
import zlib

FLOOR_BYTES = 64 * 2**20  # every file may take this much...
BYTES_PER_FILE_BYTE = 8  # ...or this many bytes of memory per byte on disk, whichever is more
_CHUNK = 2**16
_SMALL_READ = 16


class TooBig(pickle.UnpicklingError):
    """The file asks for more memory than its budget."""


class Budget:
    """Bytes the load may still take; ``charge`` refuses before the allocation happens."""

    def __init__(self, file_bytes: int):
        self.limit = max(FLOOR_BYTES, BYTES_PER_FILE_BYTE * file_bytes)
        self.file_bytes = file_bytes
        self.spent = 0

    def charge(self, nbytes: int, what: str = "its contents") -> None:
        self.spent += nbytes
        if self.spent > self.limit:
            raise TooBig(f"{what} would take more than {self.limit / 2**20:.0f} MiB, the most a "
                         f"{self.file_bytes:,}-byte file may take ({BYTES_PER_FILE_BYTE} bytes per byte of "
                         f"file, at least {FLOOR_BYTES // 2**20} MiB): a compression bomb or a damaged file")


class _ZlibStream(io.RawIOBase):
    """joblib's zlib files are one raw zlib stream; inflate it ``len(buffer)`` bytes at a time."""

    def __init__(self, fh):
        self._fh, self._inflate = fh, zlib.decompressobj()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._inflate.eof:
            data = self._inflate.unconsumed_tail or self._fh.read(_CHUNK)
            if not data:
                raise EOFError("compressed file ended before the end-of-stream marker was reached")
            out = self._inflate.decompress(data, len(buffer))
            if out:
                buffer[:len(out)] = out
                return len(out)
        return 0


def _gzip_declared_size(fh) -> int:
    """The size a gzip trailer declares (modulo 2**32: a lower bound of the real size)."""
    fh.seek(-4, os.SEEK_END)
    size = int.from_bytes(fh.read(4), "little")
    fh.seek(0)
    return size


def open_stream(fh, budget: Budget) -> tuple[io.BufferedIOBase, bool]:
    """``(readable stream, compressed?)`` of the open file ``fh``, by its magic bytes.

    Pickles start with the PROTO opcode 0x80 (protocol 2+) or a protocol 0/1 opcode; none of
    those is a compression magic.
    """
    head = fh.read(6)
    fh.seek(0)
    if head.startswith(b"\x1f\x8b"):
        declared = _gzip_declared_size(fh) if budget.file_bytes >= 18 else 0  # a gzip member has >= 18 bytes
        if declared > budget.limit:  # refused before decompressing anything
            budget.charge(declared, f"its contents (the gzip trailer declares {declared:,} bytes)")
        return gzip.GzipFile(fileobj=fh, mode="rb"), True
    if head.startswith(b"BZh"):
        return bz2.BZ2File(fh), True
    if head.startswith(b"\xfd7zXZ") or head.startswith(b"\x5d\x00\x00"):
        return lzma.LZMAFile(fh), True
    if head.startswith(b"\x78"):
        return io.BufferedReader(_ZlibStream(fh), buffer_size=_CHUNK), True
    return fh, False


class BoundedReader:
    """The unpickler's file: ``read``/``readline``/``readinto`` charge the budget before reading.

    For an uncompressed file the exact number of bytes left is known too, so a declared
    length beyond the end of the file is refused as such.
    """

    def __init__(self, stream, budget: Budget, *, exact_size: int | None):
        self._stream, self.budget, self._left = stream, budget, exact_size

    def reserve(self, nbytes: int, what: str) -> None:
        """Charge ``nbytes`` that are about to be read (or allocated for reading)."""
        if self._left is not None and nbytes > self._left:
            raise pickle.UnpicklingError(f"{what} declares {nbytes:,} bytes, more than the file holds")
        self.budget.charge(nbytes, f"{what} ({nbytes:,} bytes)")

    def _consumed(self, nbytes: int) -> None:
        if self._left is not None:
            self._left -= nbytes

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            raise pickle.UnpicklingError("unbounded read")  # the unpickler always asks for a length
        if n > _SMALL_READ:  # an opcode's own few bytes are in its opcode cost (protocol 2 reads each one)
            self.reserve(n, "a field")
        data = self._stream.read(n)
        if self._left is not None:
            self._left -= len(data)
        return data

    def readline(self, limit: int = -1) -> bytes:
        room = self.budget.limit - self.budget.spent
        line = self._stream.readline(room + 1 if limit is None or limit < 0 else min(limit, room + 1))
        self.budget.charge(len(line), "a text line")
        self._consumed(len(line))
        return line

    def readinto(self, buffer) -> int:
        """Fill ``buffer`` (already charged by the caller) completely, or as far as the file goes."""
        view, done = memoryview(buffer).cast("B"), 0
        while done < len(view):
            got = self._stream.readinto(view[done:])
            if not got:
                break
            done += got
        self._consumed(done)
        return done
