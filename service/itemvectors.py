"""Bulk reads of an items table into numpy: ids, labels and a float32 [n, dim] matrix.

Arrow carries the Array(Float32) column as one flat float buffer plus offsets, so a 50,000 x 512
split arrives as one copy instead of 50,000 Python lists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from service.errors import BadInput, ItemNotFound
from service.query import Query
from service.store import Store
from service.names import items_table


@dataclass
class Rows:
    ids: list[str | None]
    labels: list[str]
    vectors: np.ndarray  # float32 [n, dim]

    def __len__(self) -> int:
        return len(self.ids)


def read(store: Store, query: Query, dim: int) -> Rows:
    """Rows of a query whose columns are id, label, vector."""
    table = store.query_arrow(query)
    if table.num_rows == 0:
        return Rows([], [], np.zeros((0, dim), dtype=np.float32))
    vec = table.column("vector").combine_chunks()
    if isinstance(vec, pa.ChunkedArray):  # pragma: no cover - pyarrow versions differ
        vec = vec.chunk(0)
    flat = vec.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    matrix = flat.reshape(table.num_rows, dim)
    ids = [_text(x) for x in table.column("id").to_pylist()]
    labels = [_text(x) for x in table.column("label").to_pylist()]
    if not matrix.flags.writeable:  # Arrow buffers are read-only; torch and in-place ops need writable
        matrix = matrix.copy()
    return Rows(ids, labels, np.ascontiguousarray(matrix))


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
        raise ItemNotFound(f"{len(missing)} item id(s) not in dataset {dataset!r}: {', '.join(missing[:5])}",
                           dataset=dataset, items=missing[:5])
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
        raise BadInput(f"Dataset {dataset!r} has no rows in split {split!r} (splits: {listing})",
                       dataset=dataset, split=split)
    return known[split]
