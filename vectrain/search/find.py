"""Search as clients ask for it: by a stored item, a vector, a text or an image, excluding some ids
(vectrain.search.nearest), or by positive and negative examples (vectrain.search.recommend)."""

from __future__ import annotations

from collections.abc import Sequence

from vectrain.core.errors import BadInput
from vectrain.core.validation import check_ids, check_k, exactly_one
from vectrain.search.browse import count
from vectrain.search.nearest import SearchResult, nearest, query_vector
from vectrain.search.recommend import recommend
from vectrain.storage.store import Store
from vectrain.storage.vectorsql.filters import Exclusion, Filter


def search(
    store: Store,
    dataset: str,
    *,
    item_id: str | None = None,
    vector=None,
    text: str | None = None,
    image=None,
    k: int = 10,
    exclude_ids: list[str] | None = None,
    exact: bool = False,
    filters: Sequence[Filter] = (),
    **examples,
) -> SearchResult:
    """Search by a stored item, a vector, a text or a decoded image, excluding a list of ids and
    the rows failing `filters` (vectrain.search.browse); or by positive and negative examples
    (vectrain.search.recommend: positive_ids, negative_ids, positive_vectors, negative_vectors,
    strategy)."""
    if any(v is not None for v in examples.values()):
        if filters:
            raise BadInput("filter narrows a search by item_id, vector, text or image, not by examples")
        exactly_one(
            "(a single query, or positive and negative examples)",
            item_id=item_id,
            vector=vector,
            text=text,
            image=image,
            examples=True,
        )
        return recommend(store, dataset, k=k, exclude_ids=exclude_ids, exact=exact, **examples)
    k = check_k(k, store.settings)
    exclude = check_ids(list(exclude_ids or []), "exclude_ids", store.settings, allow_empty=True)
    store.registry.get(dataset, count=False)
    q = query_vector(store, dataset, item_id=item_id, vector=vector, text=text, image=image)
    exclusion = Exclusion.of_ids(exclude)
    excluded = None
    if filters:  # the rows the filters drop size the index's candidate fetch, as exclusions do
        excluded = exclusion.count + store.registry.count_rows(dataset) - count(store, dataset, list(filters))
    return nearest(store, dataset, q, k, exclusion, filters=filters, exact=exact, excluded=excluded)
