"""Vectors of a session's labeled items and batch candidates, kept in this process.

Training reads every labeled item's vector each round and the default strategy compares a
batch's candidates with them. On a large table an id read costs a granule per id (about 1 MB
at 512 dims), so the vectors read once are kept: an item's vector never changes while its
session lives (loaders skip stored ids; deleting the dataset deletes the session), so the cache
is right on any engine. A batch's candidates are read with their urls; once labeled, they are
already here.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from vectrain.core.names import items_table
from vectrain.storage import itemvectors
from vectrain.storage.query import Query, Strings
from vectrain.storage.store import Store

MAX_ENTRIES = 50_000  # about 100 MB of 512-d float32 vectors
READ_IDS = 5_000  # ids per read


class Found(NamedTuple):
    urls: list[str]
    labels: list[str]  # the dataset's own label of each
    vectors: np.ndarray  # float32 [n, dim]


def _text(value) -> str:
    return value.decode() if isinstance(value, (bytes, bytearray)) else str(value)


class VectorCache:
    def __init__(self, limit: int = MAX_ENTRIES):
        self.limit = limit
        self._lock = threading.Lock()
        self._items: OrderedDict = OrderedDict()  # (database, session, id) -> (url, label, vector)

    def get(self, store: Store, session, ids: list[str], dim: int) -> Found:
        """These ids' urls, dataset labels and vectors, in order; an id no longer in the dataset
        comes back as a zero vector with empty texts."""
        keys = [(store.database, session.id, i) for i in ids]
        with self._lock:
            missing = [i for i, key in zip(ids, keys) if key not in self._items]
        for start in range(0, len(missing), READ_IDS):
            chunk = missing[start : start + READ_IDS]
            query = Query.named(
                "classes.vectors", ids=Strings(chunk), db=store.database, items=items_table(session.dataset)
            )
            table = store.query_arrow(query.with_settings(**itemvectors.BULK_READ))
            n = table.num_rows
            flat = table.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False)
            vectors = np.asarray(flat, dtype=np.float32).reshape(n, dim) if n else np.zeros((0, dim), np.float32)
            columns = [[_text(x) for x in table.column(c).to_pylist()] for c in ("id", "url", "label")]
            self.put(store, session, *columns, vectors)
        urls, labels, vectors = [], [], np.zeros((len(ids), dim), dtype=np.float32)
        with self._lock:
            for n, key in enumerate(keys):
                found = self._items.get(key)
                if found is None:  # not in the dataset (deleted rows): a zero vector, no texts
                    urls.append("")
                    labels.append("")
                    continue
                self._items.move_to_end(key)
                urls.append(found[0])
                labels.append(found[1])
                vectors[n] = found[2]
        return Found(urls, labels, vectors)

    def put(self, store: Store, session, ids, urls, labels, vectors) -> None:
        with self._lock:
            for i, url, label, vector in zip(ids, urls, labels, vectors):
                self._items[(store.database, session.id, i)] = (url, label, np.array(vector, np.float32))
            while len(self._items) > self.limit:
                self._items.popitem(last=False)


VECTORS = VectorCache()
