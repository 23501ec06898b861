"""What to search or classify: a split, some items, vectors, texts, or the whole dataset.

One resolver for kNN, zero-shot and the tourney (and the API's request models): check that at
most one is given, bound its size, and turn it into rows (ids, labels, unit vectors) or, for
work that runs in the database, into a filter on the items table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vectrain.core.config import Settings
from vectrain.core.errors import BadInput
from vectrain.core.validation import check_count, check_ids, check_texts
from vectrain.core.vectors import as_unit_vectors
from vectrain.storage.itemvectors import Rows, all_rows, id_rows, require_split, split_rows
from vectrain.storage.store import Store
from vectrain.storage.vectorsql.filters import Filter, Ids, Split

KINDS = ("split", "item_ids", "vectors", "text")


@dataclass(frozen=True)
class Selection:
    split: str | None = None
    item_ids: tuple[str, ...] | None = None
    vectors: np.ndarray | None = None  # unit rows, checked against the dataset's dim on use
    text: tuple[str, ...] | None = None

    @classmethod
    def of(
        cls, settings: Settings, *, split=None, item_ids=None, vectors=None, text=None, required: bool = False
    ) -> Selection:
        given = [k for k, v in zip(KINDS, (split, item_ids, vectors, text)) if v is not None]
        if len(given) > 1 or (required and not given):
            raise BadInput(
                f"Give {'exactly' if required else 'at most'} one of {', '.join(KINDS)}"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if split is not None and (not isinstance(split, str) or len(split) > 256):
            raise BadInput("split must be a split name, e.g. test")
        ids = tuple(check_ids(item_ids, "item_ids", settings)) if item_ids is not None else None
        vecs = None
        if vectors is not None:
            check_count(
                vectors if isinstance(vectors, (list, tuple)) else list(np.atleast_2d(vectors)),
                "vectors",
                settings.max_vectors,
            )
            vecs = as_unit_vectors(vectors, what="vectors")
        texts = tuple(check_texts(text, "text", settings)) if text is not None else None
        return cls(split, ids, vecs, texts)

    @property
    def kind(self) -> str:
        for k in KINDS:
            if getattr(self, k) is not None:
                return k
        return "dataset"

    @property
    def in_database(self) -> bool:
        """Rows of the dataset (a split, ids or all of it), as opposed to given vectors or texts."""
        return self.kind in ("split", "item_ids", "dataset")

    def filters(self) -> list[Filter]:
        """The items-table filter of an in-database selection."""
        if self.split is not None:
            return [Split(self.split)]
        if self.item_ids is not None:
            return [Ids(self.item_ids)]
        return []

    def check_split(self, store: Store, dataset: str) -> None:
        if self.split is not None:
            require_split(store, dataset, self.split)

    def rows(
        self, store: Store, dataset: str, dim: int, embed_texts: Callable[[list[str]], np.ndarray] | None = None
    ) -> Rows:
        """The selected rows as numpy: read from the table, or the given vectors or texts."""
        kind = self.kind
        if kind == "split":
            require_split(store, dataset, self.split)
            return split_rows(store, dataset, self.split, dim)
        if kind == "item_ids":
            return id_rows(store, dataset, list(self.item_ids), dim)
        if kind == "dataset":
            return all_rows(store, dataset, dim)
        if kind == "vectors":
            q = self.vectors
        else:
            if embed_texts is None:
                raise BadInput("text: this classifier cannot embed texts; give vectors instead")
            q = embed_texts(list(self.text))
        q = as_unit_vectors(q, dim=dim, what=kind)
        return Rows([None] * len(q), [""] * len(q), q)
