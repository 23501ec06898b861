"""Browsing a dataset under filters: its own label, its split, whether a session labeled an
item, and the margin of a session's classifier on it. A page of the matching rows in a fixed
pseudo-random order (a sample that is the same on every call) with their exact count; the same
filters narrow a search (vectrain.search.find). The facets are what a person picks from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vectrain.core.choices import Labeled
from vectrain.core.errors import BadInput
from vectrain.core.names import items_table
from vectrain.core.validation import check_int, check_offset
from vectrain.storage.query import Query
from vectrain.storage.store import Store
from vectrain.storage.vectorsql.filters import Filter, InSession, Label, MarginRange, Split

MAX_FACETS = 1000  # distinct labels listed; a dataset with more is filtered by typing one


@dataclass(frozen=True)
class Classifier:
    """A session's current classifier, for filters on its labels and margins."""

    session_id: str
    weights: Any  # None: a session with classes (no single margin to filter by)
    bias: float
    threshold: float


def item_filters(
    label: str | None = None,
    split: str | None = None,
    labeled: str = "any",
    margin_min: float | None = None,
    margin_max: float | None = None,
    session: Classifier | None = None,
) -> list[Filter]:
    """The filters a request asks for. `labeled` and the margin need a session."""
    labeled = Labeled.parse(labeled, "labeled")
    wants_session = labeled != Labeled.any or margin_min is not None or margin_max is not None
    if wants_session and session is None:
        raise BadInput("labeled and the margin range filter by a session's labels and classifier: give session")
    if margin_min is not None and margin_max is not None and margin_min > margin_max:
        raise BadInput(f"margin_min ({margin_min}) is above margin_max ({margin_max})", field="margin_min")
    filters: list[Filter] = []
    if label is not None:
        filters.append(Label(label))
    if split is not None:
        filters.append(Split(split))
    if labeled != Labeled.any:
        filters.append(InSession(session.session_id, labeled == Labeled.yes))
    if margin_min is not None or margin_max is not None:
        if session.weights is None:
            raise BadInput(
                "margin_min and margin_max filter by a binary session's margin over its threshold; a session "
                "with classes has none (browse its predictions by class or margin instead)",
                field="margin_min",
            )
        filters.append(MarginRange(session.weights, session.bias, session.threshold, margin_min, margin_max))
    return filters


def count(store: Store, dataset: str, filters: list[Filter]) -> int:
    return int(store.scalar(store.dialect.count_where(store.database, items_table(dataset), filters)))


def browse(store: Store, dataset: str, filters: list[Filter], offset: int = 0, limit: int = 30) -> dict[str, Any]:
    """A page of the rows that pass `filters` and how many pass, exactly."""
    store.registry.get(dataset, count=False)
    offset = check_offset(offset, store.settings)
    limit = check_int(limit, "limit", 1, store.settings.search_max_k)
    table = items_table(dataset)
    rows = store.rows(store.dialect.browse(store.database, table, filters, limit, offset))
    return {"items": rows, "total": count(store, dataset, filters), "offset": offset, "limit": limit}


def facets(store: Store, dataset: str) -> dict[str, Any]:
    """The dataset's labels and splits with their counts, most common first."""
    store.registry.get(dataset, count=False)
    where = {"db": store.database, "items": items_table(dataset), "limit": MAX_FACETS + 1}
    labels = store.rows(Query.named("items.label_facets", **where))
    splits = store.rows(Query.named("items.split_facets", **where))
    return {
        "labels": [{"value": r["value"], "count": int(r["n"])} for r in labels[:MAX_FACETS]],
        "labels_complete": len(labels) <= MAX_FACETS,
        "splits": [{"value": r["value"], "count": int(r["n"])} for r in splits[:MAX_FACETS]],
    }
