"""The dataset registry: one row per dataset (name, dim, encoder, model) and its items table.

Registry rows change only through this class (create, drop), so they are cached per process: a
search should not pay for a FINAL read of the registry. The encoder check lives here, once:
rows made by different encoders or models must never share a table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from service.errors import BadInput, DatasetNotFound
from service.query import Query
from service.vectorsql import items_table, validate_name

if TYPE_CHECKING:
    from service.store import Store


class DatasetRegistry:
    def __init__(self, store: "Store"):
        self.store = store
        self._cache: dict[str, dict[str, Any]] = {}

    def get(self, name: str, count: bool = True) -> dict[str, Any]:
        """The registry row of a dataset (plus its live row count); DatasetNotFound if unknown."""
        validate_name(name)
        info = self._cache.get(name)
        if info is None:
            found = self.store.rows(Query.named("datasets.get", name=name))
            if not found:
                known = [d["name"] for d in self.store.rows(Query.named("datasets.list"))]
                hint = f" Known datasets: {', '.join(known)}." if known else " No datasets are loaded yet."
                raise DatasetNotFound(f"Unknown dataset {name!r}.{hint} Load one with `vectrain load ...`.",
                                      dataset=name)
            info = {**found[0], "table": items_table(name)}
            self._cache[name] = info
        info = dict(info)
        if count:
            info["rows"] = self.count_rows(name)
        return info

    def list(self) -> list[dict[str, Any]]:
        out = []
        for info in self.store.rows(Query.named("datasets.list")):
            info["table"] = items_table(info["name"])
            info["rows"] = self.count_rows(info["name"])
            out.append(info)
        return out

    def exists(self, name: str) -> bool:
        try:
            self.get(name, count=False)
        except DatasetNotFound:
            return False
        return True

    def count_rows(self, name: str) -> int:
        return int(self.store.scalar(Query.named("items.count", db=self.store.database, items=items_table(name))))

    def has_index(self, dim: int) -> bool:
        """Datasets above ann_index_max_dim (raw pixels) get no HNSW index: it would take far
        longer to build than the load, and full scans serve their exact kNN anyway."""
        return int(dim) <= self.store.settings.ann_index_max_dim

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
            raise BadInput(f"Dataset {name!r} was loaded with encoder {was}; this load uses {now}. "
                           f"Use --encoder {info['encoder']} (and the same model) to add to it, or a new dataset "
                           "name: mixing encoders in one table makes distances meaningless.", dataset=name)
        if int(info["dim"]) != int(dim):
            raise BadInput(f"Dataset {name!r} holds {info['dim']}-dimensional vectors; these have {dim} dimensions. "
                           "Load into a new dataset name instead.", dataset=name)
        return info

    def create(self, name: str, dim: int, encoder: str, model: str = "", metric: str = "cosine",
               description: str = "") -> dict[str, Any]:
        """Create the registry row and items table, or check an existing one matches."""
        validate_name(name)
        store = self.store
        with store.lock:
            if self.check_compatible(name, dim, encoder, model) is None:
                has_index = self.has_index(dim)
                for statement in store.dialect.create_items_table(store.database, items_table(name), dim,
                                                                  store.settings.ann_quantization, has_index):
                    store.command(statement)
                store.command(Query.named("datasets.insert", name=name, dim=int(dim), encoder=encoder, model=model,
                                          metric=metric, description=description))
        return self.get(name)

    def drop(self, name: str) -> None:
        self.get(name, count=False)
        with self.store.lock:
            self._cache.pop(name, None)
            self.store.command(self.store.dialect.drop_table(self.store.database, items_table(name)))
            self.store.command(Query.named("datasets.delete", name=name))

    def forget(self, name: str) -> None:
        """Drop the cached row (another process may have changed the dataset)."""
        self._cache.pop(name, None)
