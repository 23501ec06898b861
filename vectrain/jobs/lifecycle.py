"""Deleting a dataset, and everything that refers to it.

A dataset is in use while sessions train on it or label sets have zero-shot predictions stored
for it: deleting it then needs `force`, and removes with it those sessions (their labels and
label history, rounds, predictions, audit draws, published SQL function and view; their names
become free again: vectrain.labeling.manage) and the zero-shot rows. Label sets themselves stay:
they belong to no dataset. Then the items table, its thumbnails and the registry row go
(DatasetRegistry.drop).
"""

from __future__ import annotations

from vectrain.core.errors import Conflict
from vectrain.labeling.manage import SYNC, delete_sessions
from vectrain.storage.query import Query
from vectrain.storage.store import Store


def users(store: Store, name: str) -> dict[str, list]:
    """Sessions on the dataset, and label sets with zero-shot predictions stored for it."""
    return {
        "sessions": store.rows(Query.named("lifecycle.sessions_of", dataset=name)),
        "labelsets": [
            r["labelset"] for r in store.rows(Query.named("lifecycle.labelsets_with_predictions", dataset=name))
        ],
    }


def delete_dataset(store: Store, name: str, force: bool = False) -> dict:
    """Delete a dataset; Conflict (409) while it is in use, unless `force`."""
    info = store.registry.get(name)  # DatasetNotFound
    used = users(store, name)
    sessions, labelsets = used["sessions"], used["labelsets"]
    if (sessions or labelsets) and not force:
        parts = []
        if sessions:
            parts.append(f"{len(sessions)} session(s) ({', '.join(s['name'] for s in sessions[:5])})")
        if labelsets:
            parts.append(f"zero-shot predictions of label set(s) {', '.join(labelsets[:5])}")
        raise Conflict(
            f"Dataset {name!r} is in use by {' and '.join(parts)}. Delete it with force=true "
            "(`vectrain datasets delete --force`) to remove them with it.",
            dataset=name,
            sessions=[s["id"] for s in sessions],
            labelsets=labelsets,
        )
    delete_sessions(store, sessions)
    if labelsets:
        store.command(Query.named("lifecycle.delete_zero_shot", dataset=name).with_settings(SYNC))
    store.registry.drop(name)
    return {
        "dataset": name,
        "rows": int(info["rows"]),
        "sessions": [s["name"] for s in sessions],
        "labelsets": labelsets,
    }
