"""Load precomputed embeddings: .npz (vectors, ids, optional labels/urls/splits) or .parquet
(columns id, vector, optional label/url/split).

A features file is hostile until read: its rows are bounded from its headers (the npy headers
inside the zip, the Parquet footer) by VECTRAIN_MAX_LOAD_ROWS before any row is read, and it is
read in batches of a bounded size decoded (a Parquet column's values counted from the footer, not
its stored bytes, and its text columns cut by their longest dictionary value: one dictionary
value can stand for gigabytes), twice: the first pass checks every row (ids present and unique,
one dimension, finite, not zero), so a bad file leaves the dataset exactly as it was; the second
inserts. Memory stays bounded by a batch and 8 bytes an id (ids are checked unique by their
hashes, and a clash of hashes by the ids themselves). Vectors are L2-normalized; ids already
stored are skipped (re-loading the same file adds nothing); the vector index is built once at
the end. A job's cancel stops either pass at its next batch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vectrain.core.errors import BadInput, TooLarge
from vectrain.core.names import validate_name
from vectrain.core.vectors import as_unit_vectors
from vectrain.loaders.npz import ROW_BYTES_MAX, NpzStream
from vectrain.loaders.writer import DatasetWriter, LoadSummary
from vectrain.storage.store import Store

OPTIONAL = {"labels": "label", "urls": "url", "splits": "split"}  # npz array -> column
OPTIONAL_TEXT = ("id", "label", "url", "split")  # Parquet columns of text
BATCH_BYTES = 32 * 1024 * 1024  # of one batch's arrays, decoded
WIDTHS = {"BOOLEAN": 1, "INT32": 4, "FLOAT": 4, "INT64": 8, "DOUBLE": 8, "INT96": 12}  # Parquet physical types


def load_features(
    store: Store,
    dataset: str,
    path: str | Path,
    encoder: str = "features",
    model: str = "",
    progress: bool | Callable = True,
    handle: BinaryIO | None = None,
) -> LoadSummary:
    """`handle`: the file, already opened (and checked) by the caller; else `path` is opened."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".npz", ".parquet"):
        raise BadInput(f"{path.name}: unknown file type {suffix or '(none)'}; use .npz or .parquet")
    if handle is None:
        if not path.is_file():
            raise BadInput(f"No such file: {path}")
        with open(path, "rb") as opened:
            return load_features(store, dataset, path, encoder, model, progress, handle=opened)
    settings = store.settings
    source = (_Npz if suffix == ".npz" else _Parquet)(handle, path.name, settings.max_load_rows)
    validate_name(dataset)
    store.registry.check_compatible(dataset, source.dim, encoder, model)  # before anything is written
    cancel = getattr(progress, "check", None) or (lambda: None)  # a job's cancel, between batches
    rows = settings.insert_batch_rows
    _check(source, rows, cancel)
    writer = DatasetWriter(
        store, dataset, source.dim, encoder, model=model, total=source.rows, progress=progress, unique_ids=True
    )
    for batch in source.batches(rows):
        cancel()
        writer.write(**batch, normalized=True)
    return writer.finish()


def _check(source, rows: int, cancel: Callable[[], None]) -> None:
    """The first pass: every row checked (by source.batches), ids present and unique."""
    hashes, total = [], 0
    for batch in source.batches(rows):
        cancel()
        ids = batch["ids"]
        if any(i == "" for i in ids):
            raise BadInput(f"{source.name}: an id is empty; every row needs a non-empty id")
        hashes.append(np.fromiter((hash(i) for i in ids), dtype=np.int64, count=len(ids)))
        total += len(ids)
    if total == 0:
        raise BadInput(f"{source.name} has no rows")
    every = np.sort(np.concatenate(hashes))
    clashes = set(every[1:][every[1:] == every[:-1]].tolist())
    if clashes:  # the same hash twice: the same id, or (rarely) two ids with one hash
        seen = Counter(i for batch in source.ids(rows) for i in batch if hash(i) in clashes)
        dupes = sorted(i for i, n in seen.items() if n > 1)[:5]
        if dupes:
            raise BadInput(f"{source.name}: duplicate ids in the file, e.g. {dupes}; ids must be unique")


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind)


def _batch_rows(row_bytes: float, rows: int) -> int:
    return max(1, min(rows, int(BATCH_BYTES // max(row_bytes, 1))))


class _Npz:
    def __init__(self, handle: BinaryIO, name: str, max_rows: int):
        self.name = name
        self.npz = NpzStream(handle, name, max_rows)
        for required in ("vectors", "ids"):
            if required not in self.npz:
                raise BadInput(f"{name}: missing array {required!r} (found {sorted(self.npz.members)})")
        vectors = self.npz.members["vectors"]
        if len(vectors.shape) != 2 or vectors.dtype.kind not in "fiub" or vectors.shape[1] == 0:
            raise BadInput(
                f"{name}: 'vectors' must be a 2-D numeric array (n x d), got shape {vectors.shape} of {vectors.dtype}"
            )
        self.rows, self.dim = vectors.shape
        self.extras = [arr for arr in OPTIONAL if arr in self.npz]
        for arr in ["ids", *self.extras]:
            member = self.npz.members[arr]
            if len(member.shape) != 1:
                raise BadInput(f"{name}: {arr!r} must be a 1-D array of {self.rows} values, got shape {member.shape}")
            if member.rows != self.rows:
                what = f"{OPTIONAL[arr]}s" if arr in OPTIONAL else "ids"
                raise BadInput(f"{name}: {member.rows} {what} for {self.rows} vectors")
        self.arrays = ["vectors", "ids", *self.extras]
        self.row_bytes = sum(self.npz.members[a].row_bytes for a in self.arrays)

    def batches(self, rows: int) -> Iterator[dict]:
        start = 0
        for part in self.npz.batches(self.arrays, _batch_rows(self.row_bytes, rows)):
            n = len(part["ids"])
            yield {
                "ids": _strings(part["ids"], self.name, "ids"),
                "vectors": as_unit_vectors(part["vectors"], self.dim, what=f"{self.name} vectors (rows {start:,}..)"),
                **{f"{OPTIONAL[a]}s": _strings(part[a], self.name, a) for a in self.extras},
            }
            start += n

    def ids(self, rows: int) -> Iterator[list[str]]:
        for part in self.npz.batches(["ids"], _batch_rows(self.npz.members["ids"].row_bytes, rows)):
            yield _strings(part["ids"], self.name, "ids")


def _strings(values: np.ndarray, name: str, what: str) -> list[str]:
    if values.dtype.kind == "S":
        try:
            return [v.decode("utf-8") for v in values.tolist()]
        except UnicodeDecodeError:
            raise BadInput(f"{name}: {what} holds bytes that are not UTF-8 text") from None
    return [str(v) for v in values.tolist()]


class _Parquet:
    """Columns id, vector and optional label, url, split; rows and sizes from the footer."""

    def __init__(self, handle: BinaryIO, name: str, max_rows: int):
        self.name = name
        try:
            self.file = pq.ParquetFile(handle)
            # Text columns read as dictionaries: a value is decoded once, and batches are cut by
            # the longest (one dictionary value can stand for every row's).
            texts = [f.name for f in self.file.schema_arrow if f.name in OPTIONAL_TEXT and _is_text(f.type)]
            if texts:
                self.file = pq.ParquetFile(handle, read_dictionary=texts)
        except (pa.ArrowInvalid, OSError) as exc:
            raise BadInput(f"{name} is not a readable Parquet file (truncated or corrupt?): {exc}") from None
        columns = set(self.file.schema_arrow.names)
        for required in ("id", "vector"):
            if required not in columns:
                raise BadInput(f"{name}: missing column {required!r} (found {sorted(columns)})")
        self.columns = ["id", "vector"] + [c for c in ("label", "url", "split") if c in columns]
        meta = self.file.metadata
        self.rows = meta.num_rows
        if self.rows > max_rows:
            raise TooLarge(
                f"{name} has {self.rows:,} rows; a features file may hold at most {max_rows:,} "
                "(VECTRAIN_MAX_LOAD_ROWS): split it, or ask the operator to raise the limit.",
                limit=max_rows,
            )
        # Batches are sized from what the columns take decoded, from the footer: the values each
        # chunk holds times their width (dictionary or run-length encoded, 20,000 vectors of
        # 65,536 ones store in under 1 MB), or their stored size for strings.
        decoded, vector = 0, 0
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            for i in range(group.num_columns):
                chunk = group.column(i)
                column = chunk.path_in_schema.split(".")[0]
                if column in self.columns:
                    width = WIDTHS.get(chunk.physical_type) or meta.schema.column(i).length or 0
                    size = max(chunk.total_uncompressed_size, chunk.num_values * width)
                    decoded += size
                    vector += size if column == "vector" else 0
        self.row_bytes = decoded / max(self.rows, 1)
        if vector / max(self.rows, 1) > ROW_BYTES_MAX:
            raise TooLarge(
                f"{name}: its vectors take {vector / max(self.rows, 1) / 1e6:,.0f} MB a row decoded; "
                f"a row may take at most {ROW_BYTES_MAX / 1e6:,.0f} MB",
                limit=ROW_BYTES_MAX,
            )
        first = next(self.batches(1, check=False), None)
        if first is None:
            raise BadInput(f"{name} has no rows")
        self.dim = first["vectors"].shape[1]

    def _read(self, rows: int, columns: list[str]) -> Iterator[pa.RecordBatch]:
        try:
            for batch in self.file.iter_batches(batch_size=_batch_rows(self.row_bytes, rows), columns=columns):
                texts = [c.dictionary for c in batch.columns if pa.types.is_dictionary(c.type)]
                longest = sum(pc.max(pc.binary_length(d)).as_py() or 0 for d in texts)
                step = _batch_rows(self.row_bytes + longest, batch.num_rows)
                for start in range(0, batch.num_rows, step):
                    yield batch.slice(start, step)
        except (pa.ArrowInvalid, OSError) as exc:
            raise BadInput(f"{self.name} could not be read to the end (truncated or corrupt?): {exc}") from None

    def batches(self, rows: int, check: bool = True) -> Iterator[dict]:
        start = 0
        for batch in self._read(rows, self.columns):
            part = self._convert(batch)
            what = f"{self.name} vectors (rows {start:,}..)"
            part["vectors"] = as_unit_vectors(part["vectors"], self.dim if check else None, what=what)
            yield part
            start += batch.num_rows

    def ids(self, rows: int) -> Iterator[list[str]]:
        for batch in self._read(rows, ["id"]):
            yield [str(i) for i in batch.column("id").to_pylist()]

    def _convert(self, batch) -> dict:
        ids = [None if i is None else str(i) for i in batch.column("id").to_pylist()]
        if any(i is None for i in ids):
            raise BadInput(f"{self.name}: a row has a null id")
        vec_col = batch.column("vector")
        if not (
            pa.types.is_list(vec_col.type)
            or pa.types.is_large_list(vec_col.type)
            or pa.types.is_fixed_size_list(vec_col.type)
        ):
            raise BadInput(f"{self.name}: column 'vector' must hold lists of numbers, not {vec_col.type}")
        if vec_col.null_count:
            raise BadInput(f"{self.name}: a row has a null vector")
        lengths = pc.list_value_length(vec_col).to_numpy(zero_copy_only=False)
        if len(lengths) and (lengths != lengths[0]).any():
            raise BadInput(f"{self.name}: vectors of mixed dimensions ({sorted(set(lengths.tolist()))[:5]})")
        dim = int(lengths[0]) if len(lengths) else 0
        if dim == 0 and len(ids):
            raise BadInput(f"{self.name}: column 'vector' holds empty lists")
        try:
            flat = vec_col.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
        except (pa.ArrowInvalid, TypeError, ValueError):
            raise BadInput(f"{self.name}: column 'vector' must hold numbers") from None
        out = {"ids": ids, "vectors": flat.reshape(len(ids), dim)}
        for col in ("label", "url", "split"):
            if col in batch.schema.names:
                out[f"{col}s"] = ["" if v is None else str(v) for v in batch.column(col).to_pylist()]
        return out
