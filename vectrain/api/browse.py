"""Browsing a dataset under filters, and the labels and splits to filter by
(vectrain.search.browse). The same filters narrow a search (`filter` of POST .../search)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from vectrain.api.deps import StoreDep, in_thread
from vectrain.api.models import Request, api_router
from vectrain.api.security import reads
from vectrain.core.choices import Labeled
from vectrain.core.validation import MAX_ID_CHARS
from vectrain.labeling.inspect import classifier_of
from vectrain.search import browse as svc
from vectrain.storage.store import Store

router = api_router("datasets")


class ItemFilter(Request):
    label: str | None = Field(
        None, max_length=MAX_ID_CHARS, description="The item's own label in the dataset is this ('': no label)"
    )
    split: str | None = Field(None, max_length=MAX_ID_CHARS, description="The item's split is this")
    session: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="A session of this dataset: what `labeled` and the margin range are about",
    )
    labeled: Labeled = Field(Labeled.any, description="yes: labeled in the session; no: not labeled in it")
    margin_min: float | None = Field(
        None, description="The session's latest classifier: score - threshold at least this (> 0 is positive)"
    )
    margin_max: float | None = Field(None, description="... and at most this")


def filters_of(store: Store, dataset: str, f: ItemFilter | None) -> list:
    """The typed filters of a request's `ItemFilter` (none for None)."""
    if f is None:
        return []
    session = classifier_of(store, dataset, f.session) if f.session is not None else None
    return svc.item_filters(f.label, f.split, f.labeled.value, f.margin_min, f.margin_max, session)


class BrowseRequest(ItemFilter):
    offset: int = Field(0, ge=0, description="Skip this many matching items")
    limit: int = Field(30, ge=1, description="At most this many items (at most VECTRAIN_SEARCH_MAX_K)")


class BrowsedItem(BaseModel):
    id: str
    url: str
    label: str
    split: str


class Browsed(BaseModel):
    items: list[BrowsedItem] = Field(description="in a fixed pseudo-random order: the same sample on every call")
    total: int = Field(description="how many items match, exactly")
    offset: int
    limit: int


class Facet(BaseModel):
    value: str
    count: int


class Facets(BaseModel):
    labels: list[Facet] = Field(description="the dataset's labels, most common first (at most 1,000)")
    labels_complete: bool = Field(description="false: the dataset has more labels than listed")
    splits: list[Facet]


@router.post("/datasets/{name}/browse", response_model=Browsed)
@reads
async def browse_dataset(name: str, store: StoreDep, body: BrowseRequest | None = None):
    """A page of the items that pass the filters (all of them without any), in a fixed
    pseudo-random order, and how many pass, exactly: by the dataset's label, the split, whether
    a session labeled them, and the margin of the session's classifier."""
    body = body or BrowseRequest()

    def run():
        return svc.browse(store, name, filters_of(store, name, body), body.offset, body.limit)

    return await in_thread(run)


@router.get("/datasets/{name}/facets", response_model=Facets)
def dataset_facets(name: str, store: StoreDep):
    """The dataset's labels and splits with their counts: the values its filters take."""
    return svc.facets(store, name)
