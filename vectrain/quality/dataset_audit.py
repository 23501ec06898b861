"""Whole-dataset audits: suspected label errors (vectrain.quality.label_errors) and near-duplicate groups
(vectrain.quality.duplicates), with their results stored in tables analysts can join on id
(sql/schema/011_dataset_audit.sql): every run appends its rows under one run_at.

Each audit is one function that reports progress as `progress(done, total)` and stops at its
`deadline`, so the same work runs inside a request's time budget, from the CLI (no budget), or
as a background job.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any

from vectrain.core.budget import Deadline
from vectrain.core.errors import BadInput, NotFound, TimeBudgetExceeded
from vectrain.core.names import items_table
from vectrain.core.validation import check_fraction, check_int, check_k
from vectrain.quality import duplicates, label_errors
from vectrain.storage.itemvectors import Rows, all_rows, read, require_split, split_rows
from vectrain.storage.query import Query
from vectrain.storage.store import Store

Progress = Callable[[int, int], None]
LABELS, DUPLICATES = "labels", "duplicates"


class Budget(Deadline):
    """A request's time budget, whose error points at the CLI command that has none."""

    def __init__(self, seconds: float | None, what: str, command: str):
        super().__init__(seconds, what)
        self.command = command

    def error(self) -> TimeBudgetExceeded:
        return TimeBudgetExceeded(
            f"{self.what} takes longer than {self.seconds:g} s, the time budget of a synchronous request "
            f'(VECTRAIN_BATCH_TIME_BUDGET): send "wait": false to run it as a job, or run `{self.command}` '
            "from the CLI, which has no budget (or audit one split at a time).",
            budget_seconds=self.seconds,
        )


def _rows(store: Store, dataset: str, split: str | None, labeled: bool) -> Rows:
    info = store.registry.get(dataset, count=False)
    dim = int(info["dim"])
    if split is not None:
        if not isinstance(split, str) or not split or len(split) > 256:
            raise BadInput("split must be a split name, e.g. train", field="split")
        require_split(store, dataset, split)
        return split_rows(store, dataset, split, dim, labeled_only=labeled)
    if labeled:
        return read(
            store, Query.named("dataset_audit.labeled_vectors", db=store.database, items=items_table(dataset)), dim
        )
    return all_rows(store, dataset, dim)


def _record(
    store: Store, dataset: str, kind: str, params: dict, checked: int, found: int, seconds: float
) -> dt.datetime:
    now = dt.datetime.now()
    run_at = now.replace(microsecond=now.microsecond // 1000 * 1000)  # DateTime64(3)
    store.command(
        Query.named(
            "dataset_audit.insert_run",
            dataset=dataset,
            kind=kind,
            run_at=run_at,
            params=json.dumps(params),
            checked=checked,
            found=found,
            seconds=float(seconds),
        )
    )
    return run_at


def audit_labels(
    store: Store,
    dataset: str,
    *,
    split: str | None = None,
    k: int = 10,
    limit: int = 100,
    min_agreement: float = 0.5,
    deadline: Deadline = Deadline.none(),
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Rank the labeled items (of `split`, or the whole dataset) whose label disagrees with their
    k nearest labeled neighbours (in the same split, or the whole dataset); store every suspect
    in label_issues and return the `limit` most suspect."""
    settings = store.settings
    k = check_k(k, settings)
    limit = check_int(limit, "limit", 1, settings.max_ids)
    min_agreement = check_fraction(min_agreement, "min_agreement", 0.0, 1.0, high_open=False)
    started = time.perf_counter()
    rows = _rows(store, dataset, split, labeled=True)
    found = label_errors.find_suspects(rows.vectors, rows.labels, k, min_agreement, deadline, progress)
    seconds = time.perf_counter() - started
    params = {"split": split, "k": min(k, max(len(rows) - 1, 1)), "min_agreement": min_agreement}
    run_at = _record(store, dataset, LABELS, params, len(rows), len(found.index), seconds)
    items = [
        {
            "id": rows.ids[i],
            "label": rows.labels[i],
            "suggested": found.suggested[n],
            "score": float(found.score[n]),
            "agreement": float(found.agreement[n]),
            "neighbors": [rows.ids[j] for j in found.neighbors[n]],
        }
        for n, i in enumerate(found.index)
    ]
    if items:
        store.insert(
            "label_issues",
            [
                [dataset, run_at, n, x["id"], x["label"], x["suggested"], x["score"], x["agreement"], x["neighbors"]]
                for n, x in enumerate(items)
            ],
            column_names=["dataset", "run_at", "rank", "id", "label", "suggested", "score", "agreement", "neighbors"],
        )
    return {
        "items": items[:limit],
        "checked": len(rows),
        "flagged": len(items),
        "truncated": len(items) > limit,
        **params,
        "run_at": run_at.isoformat(timespec="milliseconds"),
        "seconds": round(seconds, 3),
        "table": "label_issues",
    }


def find_duplicates(
    store: Store,
    dataset: str,
    *,
    threshold: float = 0.98,
    split: str | None = None,
    limit: int = 100,
    deadline: Deadline = Deadline.none(),
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Groups of items (of `split`, or the whole dataset) at least `threshold` similar; store every
    group in duplicate_groups and return the `limit` largest."""
    settings = store.settings
    threshold = check_fraction(threshold, "threshold", 0.0, 1.0, high_open=False)
    if threshold == 0:
        raise BadInput("threshold must be above 0: a cosine similarity near 1 (e.g. 0.98)", field="threshold")
    limit = check_int(limit, "limit", 1, settings.max_ids)
    started = time.perf_counter()
    rows = _rows(store, dataset, split, labeled=False)
    found = duplicates.duplicate_groups(rows.vectors, threshold, deadline, progress)
    seconds = time.perf_counter() - started
    members = sum(len(g) for g in found.groups)
    params = {"split": split, "threshold": threshold}
    run_at = _record(store, dataset, DUPLICATES, params, len(rows), members, seconds)
    if found.groups:
        store.insert(
            "duplicate_groups",
            [
                [dataset, run_at, g, rows.ids[i], len(group), float(found.similarity[i])]
                for g, group in enumerate(found.groups)
                for i in group
            ],
            column_names=["dataset", "run_at", "group_id", "id", "size", "similarity"],
        )
    groups = [[rows.ids[i] for i in group] for group in found.groups]
    return {
        "groups": groups[:limit],
        "checked": len(rows),
        "pairs": found.pairs,
        "items": members,
        "truncated": len(groups) > limit,
        "count": len(groups),
        **params,
        "run_at": run_at.isoformat(timespec="milliseconds"),
        "seconds": round(seconds, 3),
        "table": "duplicate_groups",
    }


def latest(store: Store, dataset: str, kind: str, limit: int = 100) -> dict[str, Any]:
    """The stored results of the latest run of an audit (NotFound before the first)."""
    store.registry.get(dataset, count=False)
    limit = check_int(limit, "limit", 1, store.settings.max_ids)
    last = store.rows(Query.named("dataset_audit.latest_run", dataset=dataset, kind=kind))[0]
    if not int(last["runs"]):
        raise NotFound(
            f"No {kind} audit of dataset {dataset!r} yet: POST /datasets/{dataset}/audit/{kind} runs one",
            dataset=dataset,
        )
    run = store.rows(Query.named("dataset_audit.run", dataset=dataset, kind=kind, run_at=last["run_at"]))[0]
    out = {
        "run_at": last["run_at"].isoformat(timespec="milliseconds"),
        "checked": int(run["checked"]),
        **json.loads(run["params"]),
        "seconds": round(float(run["seconds"]), 3),
    }
    if kind == LABELS:
        items = store.rows(
            Query.named("dataset_audit.label_issues", dataset=dataset, run_at=last["run_at"], limit=limit)
        )
        return {
            **out,
            "items": [{**x, "score": float(x["score"]), "agreement": float(x["agreement"])} for x in items],
            "flagged": int(run["found"]),
            "truncated": int(run["found"]) > limit,
            "table": "label_issues",
        }
    groups = store.rows(
        Query.named("dataset_audit.duplicate_groups", dataset=dataset, run_at=last["run_at"], limit=limit + 1)
    )
    return {
        **out,
        "groups": [g["ids"] for g in groups[:limit]],
        "items": int(run["found"]),
        "truncated": len(groups) > limit,
        "table": "duplicate_groups",
    }
