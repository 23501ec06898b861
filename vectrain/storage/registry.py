"""The dataset registry: one row per dataset (name, dim, encoder, model) and its items table.

Registry rows change only through this class (create, drop), so they are cached per process: a
search should not pay for a FINAL read of the registry. The encoder check lives here, once:
rows made by different encoders or models must never share a table.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from vectrain.core.errors import BadInput, DatasetNotFound, EngineError, VectrainError
from vectrain.core.names import items_table, validate_name
from vectrain.storage import thumbnails
from vectrain.storage.query import Query, Runner

# The index of a dataset is one of these (GET /datasets/{name} says which):
INDEX_READY = "ready"  # every part is indexed: search uses the HNSW index
INDEX_BUILDING = "building"  # an index build is running
INDEX_MISSING = "missing"  # some rows are not indexed (a load in progress, or a build was killed)
INDEX_NONE = "none"  # no index for this dimension (searched by full scan)
# How long a read of a table's row count, parts and index state is reused on a ClickHouse server,
# where other processes may write. On chDB this process is the only writer (one process per
# path), so they are reused until this process changes the table.
SERVER_CACHE_SECONDS = 2.0
# A loaded HNSW index over its uncompressed bytes on disk (a 4M-row bf16 part: 5.9 GB cache weight
# for 4.84 GiB on disk).
INDEX_MEMORY_FACTOR = 1.25


class DatasetRegistry:
    def __init__(self, store: Runner):
        self.store = store
        self._cache: dict[str, dict[str, Any]] = {}
        self._facts: dict[tuple[str, str], tuple[float, Any]] = {}  # (dataset, what) -> (read at, value)
        self._ttl = float("inf") if store.target.kind == "chdb" else SERVER_CACHE_SECONDS

    def _fact(self, name: str, what: str, read, fresh: bool = False):
        """A fact about a dataset's table (rows, parts, index state), cached as said above."""
        cached = self._facts.get((name, what))
        if cached and not fresh and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        value = read()
        self._facts[(name, what)] = (time.monotonic(), value)
        return value

    def get(self, name: str, count: bool = True) -> dict[str, Any]:
        """The registry row of a dataset (plus its live row count and index state);
        DatasetNotFound if unknown."""
        validate_name(name)
        info = self._cache.get(name)
        if info is None:
            found = self.store.rows(Query.named("datasets.get", name=name))
            if not found:
                known = [d["name"] for d in self.store.rows(Query.named("datasets.list"))]
                hint = f" Known datasets: {', '.join(known)}." if known else " No datasets are loaded yet."
                raise DatasetNotFound(
                    f"Unknown dataset {name!r}.{hint} Load one with `vectrain load ...`.", dataset=name
                )
            info = {**found[0], "table": items_table(name)}
            self._cache[name] = info
        info = dict(info)
        if count:
            info["rows"] = self.count_rows(name)
            info["index"] = self.index_state(name, int(info["dim"]))
        return info

    def list(self) -> list[dict[str, Any]]:
        out = []
        for info in self.store.rows(Query.named("datasets.list")):
            try:
                info["table"] = items_table(info["name"])
            except BadInput:  # a row written before names were checked in full: not servable
                print(f"vectrain: skipping dataset {info['name']!r}: not a valid name", file=sys.stderr)
                continue
            info["rows"] = self.count_rows(info["name"])
            info["index"] = self.index_state(info["name"], int(info["dim"]))
            out.append(info)
        return out

    def exists(self, name: str) -> bool:
        try:
            self.get(name, count=False)
        except DatasetNotFound:
            return False
        return True

    def count_rows(self, name: str, fresh: bool = False) -> int:
        return self._fact(
            name,
            "rows",
            lambda: int(self.store.scalar(Query.named("items.count", db=self.store.database, items=items_table(name)))),
            fresh,
        )

    def parts(self, name: str, fresh: bool = False) -> list[tuple[str, int]]:
        """(part name, rows) of the table's active parts (background merges rename them)."""
        return self._fact(
            name,
            "parts",
            lambda: [
                (r["name"], int(r["rows"]))
                for r in self.store.rows(Query.named("items.parts", db=self.store.database, table=items_table(name)))
            ],
            fresh,
        )

    def has_index(self, dim: int) -> bool:
        """Datasets above ann_index_max_dim (raw pixels) get no HNSW index: it would take far
        longer to build than the load, and full scans serve their exact kNN anyway."""
        return int(dim) <= self.store.settings.ann_index_max_dim

    # -- the vector index ------------------------------------------------------------------------
    def index_state(self, name: str, dim: int, fresh: bool = False) -> str:
        """ready | building | missing | none, read from the engine (parts without index data,
        pending index mutations), not from what a loader said it did: a build killed half way
        shows as missing, and search answers by scan until it is rebuilt."""
        if not self.has_index(dim):
            return INDEX_NONE
        where = {"db": self.store.database, "table": items_table(name)}

        def read() -> str:
            if int(self.store.scalar(Query.named("items.pending_mutations", **where))):
                return INDEX_BUILDING
            parts = self.store.rows(Query.named("items.index_parts", **where))
            return INDEX_MISSING if parts and int(parts[0]["unindexed"]) else INDEX_READY

        state = self._fact(name, "index", read, fresh)
        if state == INDEX_BUILDING:  # a build ends without this process writing: look again next time
            self._facts.pop((name, "index"), None)
        return state

    def build_index(self, name: str, progress: bool = False, cancel: Callable[[], None] | None = None) -> float:
        """Build the vector index where it is missing (after a bulk load, or a killed build);
        waits for a build already running. Returns the seconds spent; 0.0 when it was ready.
        `cancel` (a job's check) is called while the build runs; what it raises stops the build."""
        info = self.get(name, count=False)
        dim = int(info["dim"])
        state = self.index_state(name, dim, fresh=True)
        if state in (INDEX_READY, INDEX_NONE):
            return 0.0
        started = time.perf_counter()
        store = self.store
        where = {"db": store.database, "table": items_table(name)}
        while int(store.scalar(Query.named("items.pending_mutations", **where))):
            if cancel is not None:
                cancel()
            time.sleep(0.2)  # a build in progress (this process resumed it, or another runs it)
        if self.index_state(name, dim, fresh=True) == INDEX_MISSING:
            if progress:
                print(f"building the vector index of {items_table(name)} ...", file=sys.stderr)
            for statement in store.dialect.build_index(store.database, items_table(name)):
                if cancel is not None:
                    cancel()
                if cancel is not None and statement.settings.get("mutations_sync"):
                    self._mutate(statement, where, cancel)
                else:
                    store.command_apart(statement)
        self.forget(name)
        return time.perf_counter() - started

    def _mutate(self, statement: Query, where: dict, cancel: Callable[[], None]) -> None:
        """A mutation (the index build) started without waiting, then waited for here, a check
        at a time: a cancel kills it (the rows stay; the index is missing until the next build)."""
        store = self.store
        store.command_apart(statement.with_settings(mutations_sync=0))
        try:
            while int(store.scalar(Query.named("items.pending_mutations", **where))):
                cancel()
                if reason := store.scalar(Query.named("items.failed_mutation", **where)):
                    raise EngineError(f"Building the vector index failed: {' '.join(str(reason).split())[:300]}")
                time.sleep(0.2)
        except BaseException:
            store.command(Query.named("items.kill_mutations", **where))
            raise

    def index_cache_warning(self, name: str) -> str | None:
        """A line to log when the largest part's index cannot stay in the engine's index cache:
        then every search reads it from disk again. None when it fits (or on dialects without
        the cache's settings)."""
        where = {"db": self.store.database, "table": items_table(name)}
        try:
            largest = int(self.store.scalar(Query.named("items.largest_index_part", **where)) or 0)
            cache = self.store.rows(Query.named("meta.index_cache"))
        except VectrainError:  # a server account without access to these system tables: no advice, no failure
            return None
        if not largest or not cache or not int(cache[0]["size"]):
            return None
        size, policy, ratio = int(cache[0]["size"]), cache[0]["policy"], float(cache[0]["ratio"])
        # a new entry enters SLRU's probationary share; loaded, an index is about 1.25x its bytes on disk
        room = size if policy.upper() == "LRU" else int(size * (1 - ratio))
        needed = int(largest * INDEX_MEMORY_FACTOR)
        if needed <= room:
            return None
        return (
            f"the vector index of dataset {name} needs about {needed / 2**30:.1f} GiB in memory but the engine's "
            f"index cache holds {room / 2**30:.1f} GiB per entry ({policy}, {size / 2**30:.1f} GiB): every "
            "search reads it from disk again. Raise VECTRAIN_INDEX_CACHE_BYTES (embedded) or the server's "
            "vector_similarity_index_cache_size."
        )

    def build_missing_indexes(self) -> list[str]:
        """At start-up: rebuild every index a killed load or build left missing."""
        rebuilt = []
        for info in self.list():
            if info["index"] in (INDEX_MISSING, INDEX_BUILDING):
                self.build_index(info["name"])
                rebuilt.append(info["name"])
        return rebuilt

    def check_compatible(self, name: str, dim: int, encoder: str, model: str = "") -> dict[str, Any] | None:
        """The existing dataset's row if rows of (dim, encoder, model) may be added to it, None if
        there is no such dataset; BadInput (before any input is read) if they may not: mixing
        encoders or models in one table makes distances meaningless."""
        try:
            info = self.get(name, count=False)
        except DatasetNotFound:
            return None
        same_model = not model or not info["model"] or info["model"] == model
        if info["encoder"] != encoder or not same_model:
            was = info["encoder"] + (f" ({info['model']})" if info["model"] else "")
            now = encoder + (f" ({model})" if model else "")
            raise BadInput(
                f"Dataset {name!r} was loaded with encoder {was}; this load uses {now}. "
                f"Use --encoder {info['encoder']} (and the same model) to add to it, or a new dataset "
                "name: mixing encoders in one table makes distances meaningless.",
                dataset=name,
            )
        if int(info["dim"]) != int(dim):
            raise BadInput(
                f"Dataset {name!r} holds {info['dim']}-dimensional vectors; these have {dim} dimensions. "
                "Load into a new dataset name instead.",
                dataset=name,
            )
        return info

    def create(
        self, name: str, dim: int, encoder: str, model: str = "", metric: str = "cosine", description: str = ""
    ) -> dict[str, Any]:
        """Create the registry row and items table, or check an existing one matches."""
        validate_name(name)
        store = self.store
        with store.lock:
            if self.check_compatible(name, dim, encoder, model) is None:
                has_index = self.has_index(dim)
                for statement in store.dialect.create_items_table(
                    store.database, items_table(name), dim, store.settings.ann_quantization, has_index
                ):
                    store.command(statement)
                store.command(
                    Query.named(
                        "datasets.insert",
                        name=name,
                        dim=int(dim),
                        encoder=encoder,
                        model=model,
                        metric=metric,
                        description=description,
                    )
                )
        return self.get(name)

    def drop(self, name: str) -> None:
        self.get(name, count=False)
        with self.store.lock:
            self.forget(name)
            self.store.command(self.store.dialect.drop_table(self.store.database, items_table(name)))
            thumbnails.delete(self.store, name)
            self.store.command(Query.named("datasets.delete", name=name))

    def forget(self, name: str) -> None:
        """Drop what is cached about a dataset (this process changed it)."""
        self._cache.pop(name, None)
        for key in [k for k in self._facts if k[0] == name]:
            self._facts.pop(key, None)


def random_picks(rng, parts: list[tuple[str, int]], draws: int, seen: set[int]) -> list[tuple[str, int]]:
    """`draws` distinct row positions drawn uniformly over the parts' rows, less those already
    `seen` (which take the new ones), as (part name, row within the part): what a rows_at query
    reads without scanning the table."""
    import numpy as np

    total = sum(rows for _, rows in parts)
    positions = [int(p) for p in rng.choice(total, size=draws, replace=False) if int(p) not in seen]
    seen.update(positions)
    starts = np.cumsum([0] + [rows for _, rows in parts])
    picks = []
    for p in positions:
        i = int(np.searchsorted(starts, p, side="right")) - 1
        picks.append((parts[i][0], p - int(starts[i])))
    return picks
