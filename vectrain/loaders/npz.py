"""An `.npz` of features read as a stream: every array's size from its npy header and the zip's
declared sizes, checked before a byte of data is read, then read a batch of rows at a time.

`np.load(...)["vectors"]` decompresses a whole array into memory: a 2 MB zip of 1M x 512 zeros
is 2 GB of float32, and a 470-byte zip whose header declares 10^12 x 512 is a MemoryError. Here
the header is read alone (numpy.lib.format), its shape and dtype bounded (rows by
VECTRAIN_MAX_LOAD_ROWS, one row by ROW_BYTES_MAX), and what the header declares must be what the
zip declares; then rows are decompressed in batches of a bounded size, and a member that ends
early is a truncated file.
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from vectrain.core.errors import BadInput, TooLarge

ROW_BYTES_MAX = 64 * 1024 * 1024  # one row of one array (a vector of 16M float32)
HEADER_BYTES_MAX = 10_000  # numpy's own default bound on an npy header


@dataclass(frozen=True)
class Member:
    """One array of the archive, as its header declares it."""

    name: str  # the array's name (the zip member without .npy)
    info: zipfile.ZipInfo
    shape: tuple[int, ...]
    dtype: np.dtype
    offset: int  # bytes of the npy header before the data

    @property
    def rows(self) -> int:
        return self.shape[0] if self.shape else 1

    @property
    def row_bytes(self) -> int:
        return math.prod(self.shape[1:]) * self.dtype.itemsize


class NpzStream:
    """The arrays of an .npz (a zip of .npy files) on an open binary file."""

    def __init__(self, handle: BinaryIO, name: str, max_rows: int):
        self.name = name
        try:
            self.zip = zipfile.ZipFile(handle)
            infos = self.zip.infolist()
            self.members = {m.name: m for m in (self._member(i, max_rows) for i in infos) if m is not None}
        except (BadInput, TooLarge):
            raise
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
            raise BadInput(f"{name} is not a readable .npz file (truncated or corrupt?): {exc}") from None

    def _member(self, info: zipfile.ZipInfo, max_rows: int) -> Member | None:
        if not info.filename.endswith(".npy"):
            return None
        name = info.filename[: -len(".npy")]
        with self.zip.open(info) as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=HEADER_BYTES_MAX)
            elif version in ((2, 0), (3, 0)):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=HEADER_BYTES_MAX)
            else:
                raise BadInput(f"{self.name}: array {name!r} has an npy version numpy does not write ({version})")
            offset = f.tell()
        if dtype.hasobject:
            raise BadInput(
                f"{self.name}: array {name!r} holds Python objects, which are not read (they could run code): "
                "save strings as a string array, e.g. np.array(ids, dtype=str)"
            )
        if any(not isinstance(s, int) or s < 0 for s in shape):
            raise BadInput(f"{self.name}: array {name!r} declares an impossible shape {shape}")
        member = Member(name, info, tuple(shape), dtype, offset)
        if member.rows > max_rows:
            raise TooLarge(
                f"{self.name}: array {name!r} declares {member.rows:,} rows; a features file may hold at most "
                f"{max_rows:,} (VECTRAIN_MAX_LOAD_ROWS): split it, or ask the operator to raise the limit.",
                limit=max_rows,
            )
        if member.row_bytes > ROW_BYTES_MAX:
            raise TooLarge(
                f"{self.name}: one row of array {name!r} is {member.row_bytes:,} bytes; at most {ROW_BYTES_MAX:,} "
                "are read at once",
                limit=ROW_BYTES_MAX,
            )
        declared = member.rows * member.row_bytes
        if info.file_size != offset + declared:  # the zip and the header must agree, before any data is read
            raise BadInput(
                f"{self.name} is not a readable .npz file (truncated or corrupt?): array {name!r} declares "
                f"{shape} of {dtype} ({declared:,} bytes) but its zip entry holds {info.file_size - offset:,}"
            )
        if fortran and len(shape) > 1:
            raise BadInput(
                f"{self.name}: array {name!r} is stored column by column (Fortran order) and cannot be read a row "
                "at a time: save it with np.ascontiguousarray"
            )
        return member

    def __contains__(self, name: str) -> bool:
        return name in self.members

    def batches(self, names: list[str], rows_per_batch: int):
        """Aligned batches of rows of the named arrays: {name: ndarray of up to rows_per_batch rows}."""
        members = [self.members[n] for n in names]
        files = [self.zip.open(m.info) for m in members]
        try:
            for f, m in zip(files, members):
                f.read(m.offset)
            total = members[0].rows
            for start in range(0, total, rows_per_batch):
                n = min(rows_per_batch, total - start)
                out = {}
                for f, m in zip(files, members):
                    raw = f.read(n * m.row_bytes)
                    if len(raw) != n * m.row_bytes:
                        raise BadInput(f"{self.name} is truncated: array {m.name!r} ends before its row {start + n:,}")
                    out[m.name] = np.frombuffer(raw, dtype=m.dtype).reshape((n, *m.shape[1:]))
                yield out
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            raise BadInput(f"{self.name} could not be read to the end (truncated or corrupt?): {exc}") from None
        finally:
            for f in files:
                f.close()
