"""Bulk reads of an items table into numpy: ids, labels and a float32 [n, dim] matrix.

Arrow carries the Array(Float32) column as one flat float buffer plus offsets, so a 50,000 x 512
split arrives as one copy instead of 50,000 Python lists.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from vectrain.core.errors import BadInput, ItemNotFound
from vectrain.core.names import items_table
from vectrain.storage.query import Query
from vectrain.storage.store import Store

# Settings of every bulk read. Arrow output is lz4-compressed by default, which vectors do not
# repay (it made a read 1.5-3x slower); and a block of 1 MB (the default preferred size) is 512
# rows of 512 floats, so a 65k-row read came back as 132 record batches to concatenate.
BULK_READ = {"output_format_arrow_compression_method": "none", "preferred_block_size_bytes": 2**30}


# Batch work reads a table in blocks of at most BLOCK_BYTES of vectors. Bigger allocations are
# mapped fresh from the kernel and unmapped when freed (by the engine's allocator over 64 MiB, by
# the C library's over 32 MiB), so every block faulted all its pages in again; smaller ones reuse
# freed memory. Zero-shot over 1M x 512 in 16k-row blocks against 32k-row ones (interleaved, 7
# process pairs): a process's first run 2.55 s against 3.11 s, its second 2.17 s against 2.27 s,
# system CPU 1.4 s against 2.4 s, peak RSS 1.15 GB against 1.6 GB.
BLOCK_BYTES = 31 * 2**20


def block_rows(dim: int) -> int:
    """Rows of a bulk-read block: as many float32 [dim] vectors as fit BLOCK_BYTES."""
    return max(1, BLOCK_BYTES // (4 * dim))


def _matrix(column: pa.ChunkedArray, rows: int, dim: int) -> np.ndarray:
    """float32 [rows, dim] of an Array(Float32) column: one chunk is read in place (read-only),
    several are concatenated once."""
    parts = [chunk.flatten().to_numpy(zero_copy_only=False) for chunk in column.chunks]
    flat = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return flat.astype(np.float32, copy=False).reshape(rows, dim)


@dataclass
class Rows:
    ids: list[str | None]
    labels: list[str]
    vectors: np.ndarray  # float32 [n, dim]

    def __len__(self) -> int:
        return len(self.ids)


def read(store: Store, query: Query, dim: int) -> Rows:
    """Rows of a query whose columns are id, label, vector."""
    table = store.query_arrow(query.with_settings(**BULK_READ))
    if table.num_rows == 0:
        return Rows([], [], np.zeros((0, dim), dtype=np.float32))
    matrix = _matrix(table.column("vector"), table.num_rows, dim)
    ids = [_text(x) for x in table.column("id").to_pylist()]
    labels = [_text(x) for x in table.column("label").to_pylist()]
    if not matrix.flags.writeable:  # Arrow buffers are read-only; torch and in-place ops need writable
        matrix = matrix.copy()
    return Rows(ids, labels, np.ascontiguousarray(matrix))


def blocks(
    store: Store, dataset: str, dim: int, split: str | None = None, ahead: int = 1
) -> Iterator[tuple[pa.Array, np.ndarray]]:
    """Every row (or one split's) as (ids, float32 [n, dim] vectors) blocks of block_rows(dim),
    for batch work in bounded memory. Each block is a primary-key range of its own query (an
    engine reads a range without sorting, where one ordered stream of the whole table measured
    1.5x slower and chDB materializes it whole); the next `ahead` blocks are read on a second
    client while the caller works on this one."""
    where = {"split": split or "", **_items(store, dataset)}
    ids = store.query_arrow(Query.named("classify.ids_in_order", **where)).column("id")
    if len(ids) == 0:
        return
    rows = block_rows(dim)
    bounds = [ids[i].as_py() for i in range(0, len(ids), rows)]
    queries = [Query.named("classify.vectors_range", lo=lo, hi=hi, **where) for lo, hi in zip(bounds, bounds[1:])]
    queries.append(Query.named("classify.vectors_from", lo=bounds[-1], **where))
    queries = [q.with_settings(**BULK_READ, max_block_size=rows) for q in queries]
    with store.apart() as reader, ThreadPoolExecutor(1) as prefetch:
        pending = deque(prefetch.submit(reader.query_arrow, q) for q in queries[:ahead])
        for i in range(len(queries)):
            table = pending.popleft().result()
            if i + ahead < len(queries):
                pending.append(prefetch.submit(reader.query_arrow, queries[i + ahead]))
            if table.num_rows:
                yield table.column("id").combine_chunks(), _matrix(table.column("vector"), table.num_rows, dim)


def _text(value) -> str:
    return value.decode() if isinstance(value, (bytes, bytearray)) else str(value)


def _items(store: Store, dataset: str) -> dict:
    return {"db": store.database, "items": items_table(dataset)}


def split_rows(store: Store, dataset: str, split: str, dim: int, labeled_only: bool = False) -> Rows:
    name = "classify.train_vectors" if labeled_only else "classify.split_vectors"
    return read(store, Query.named(name, split=split, **_items(store, dataset)), dim)


def all_rows(store: Store, dataset: str, dim: int) -> Rows:
    return read(store, Query.named("classify.all_vectors", **_items(store, dataset)), dim)


def id_rows(store: Store, dataset: str, ids: list[str], dim: int) -> Rows:
    """The rows of these ids, in the order given; ItemNotFound names the missing ones."""
    if not ids:
        raise BadInput("item_ids is empty: give at least one id")
    if len(set(ids)) != len(ids):
        raise BadInput("item_ids contains duplicates")
    rows = read(store, Query.named("classify.ids_vectors", ids=list(ids), **_items(store, dataset)), dim)
    where = {item_id: i for i, item_id in enumerate(rows.ids)}
    missing = [i for i in ids if i not in where]
    if missing:
        raise ItemNotFound(
            f"{len(missing)} item id(s) not in dataset {dataset!r}: {', '.join(missing[:5])}",
            dataset=dataset,
            items=missing[:5],
        )
    order = np.asarray([where[i] for i in ids])
    return Rows(list(ids), [rows.labels[i] for i in order], rows.vectors[order])


def item_vector(store: Store, dataset: str, item_id: str) -> np.ndarray:
    rows = store.rows(Query.named("items.get", id=item_id, **_items(store, dataset)))
    if not rows:
        raise ItemNotFound(f"No item {item_id!r} in dataset {dataset!r}", dataset=dataset, item=item_id)
    return np.asarray(rows[0]["vector"], dtype=np.float32)


def splits(store: Store, dataset: str) -> dict[str, int]:
    return {r["split"]: int(r["n"]) for r in store.rows(Query.named("classify.splits", **_items(store, dataset)))}


def require_split(store: Store, dataset: str, split: str) -> int:
    known = splits(store, dataset)
    if not known.get(split):
        listing = ", ".join(f"{k or '(empty)'}: {v}" for k, v in known.items()) or "none"
        raise BadInput(
            f"Dataset {dataset!r} has no rows in split {split!r} (splits: {listing})", dataset=dataset, split=split
        )
    return known[split]
