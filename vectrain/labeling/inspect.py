"""What the page shows beside an item: the dataset's own label, and a session's current
classifier on it (its score, the margin over the threshold and the decision).

A decision is `score > threshold`, as apply stores it; the margin `score - threshold` is what
the published SQL function returns, so its sign is the decision everywhere it is shown.
"""

from __future__ import annotations

from typing import Any

from vectrain.core.errors import BadInput
from vectrain.core.validation import check_ids
from vectrain.labeling.multiclass import batches as class_batches
from vectrain.labeling.sessions import current_state
from vectrain.labeling.state import items_params, session_row
from vectrain.search.browse import Classifier
from vectrain.storage.query import Floats, Query
from vectrain.storage.store import Store


def score_items(store: Store, session_id: str, item_ids: list[str]) -> dict[str, Any]:
    """Some items under the session's latest round: score, margin and decision, the dataset's
    label, and the session's label of each (None where it has none). Unknown ids are left out."""
    ids = check_ids(item_ids, "item_ids", store.settings)
    s = session_row(store, session_id)
    if s["classes"]:
        return class_batches.score_items(store, s, ids)
    r = current_state(store, s["id"]).round
    threshold = float(r["threshold"])
    where = items_params(store, s["dataset"])
    scored = Query.named("sessions.scored_items", w=Floats(r["weights"]), b=float(r["bias"]), ids=ids, **where)
    rows = store.rows(scored)
    by_id = {row["id"]: row for row in rows}
    yours = {
        x["item_id"]: float(x["score"])
        for x in store.rows(Query.named("sessions.labels_of_items", session_id=s["id"], ids=ids))
    }
    items = []
    for i in ids:
        if i in by_id:
            score = float(by_id[i]["score"])
            items.append(
                {
                    "id": i,
                    "label": by_id[i]["label"],
                    "score": score,
                    "margin": score - threshold,
                    "positive": score > threshold,
                    "your_label": yours.get(i),
                }
            )
    return {"round": int(r["round"]), "threshold": threshold, "items": items}


def classifier_of(store: Store, dataset: str, session_id: str) -> Classifier:
    """The session's current classifier, for filters over `dataset` (which must be its own)."""
    s = session_row(store, session_id)
    if s["dataset"] != dataset:
        raise BadInput(
            f"Session {s['name']!r} labels dataset {s['dataset']!r}, not {dataset!r}", field="session", session=s["id"]
        )
    if s["classes"]:  # labeled or not filters any session; a margin over a threshold is binary only
        return Classifier(s["id"], None, 0.0, 0.0)
    r = current_state(store, s["id"]).round
    return Classifier(s["id"], r["weights"], float(r["bias"]), float(r["threshold"]))
