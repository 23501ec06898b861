"""Labelers of one session: each one's own answers, counts per labeler, the items two labelers
answered differently, and their agreement (sql/schema/020_labelers.sql).

How a second labeler's label is stored: the labels table keeps one label per item, the newest,
whoever gave it (with its `labeler`): that is the session's label, what training, next batches
and exports read, so it is always one well-defined answer. Each labeler's own newest answer is
kept beside it in `label_votes`, written in the same request: a relabel by Bob of Alice's item
makes Bob's answer the session's label and leaves Alice's answer as hers, so both are there for
the review list and for agreement. Removing a label removes the session's label and the
remover's answer; undo restores the actor's answers as they were (vectrain.labeling.history).

Agreement is Cohen's kappa for each pair of labelers over the items both answered, with an
approximate 95% interval (kappa +- 1.96 x its large-sample standard error,
sqrt(po (1 - po) / (n (1 - pe)^2))), reported once they share VECTRAIN_AGREEMENT_MIN_ITEMS items:
below that the interval spans most of [-1, 1] and a number would flatter. An answer's category
is its sign in a binary session (positive, negative, or 0 for a neutral grade) and its class in
a multi-class session (label_votes.class), so kappa is the same statistic over k categories.
Kappa is undefined when both labelers used one and the same category throughout (chance
agreement 1): it is then null, with the reason.
"""

from __future__ import annotations

import math
from collections import Counter
from itertools import combinations
from typing import Any

from vectrain.core.validation import check_int
from vectrain.labeling.state import dataset_labels, session_row
from vectrain.storage.query import Query
from vectrain.storage.store import Store

Z95 = 1.959964


def record_answers(
    store: Store,
    session_id: str,
    labeler: str,
    ids: list[str],
    scores: list[float],
    version: int,
    removed=False,
    classes: list[str] | None = None,
) -> None:
    """Each labeler's own answers (or their removal), beside the session's labels; `classes`: a
    multi-class session's answers (their scores are 1)."""
    classes = classes if classes is not None else [""] * len(ids)
    store.insert(
        "label_votes",
        [[session_id, i, labeler, float(s), c, int(removed), int(version)] for i, s, c in zip(ids, scores, classes)],
        column_names=["session_id", "item_id", "labeler", "score", "class", "removed", "version"],
    )


def category(answer: dict) -> str:
    """What kappa compares: the class of a multi-class answer, else the sign of the score."""
    if answer.get("class"):
        return str(answer["class"])
    score = float(answer["score"])
    return "positive" if score > 0 else "negative" if score < 0 else "neutral"


def shared_answers(store: Store, session_id: str) -> dict[str, list[dict]]:
    """item -> every labeler's live answer, for the items two or more labelers answered."""
    out: dict[str, list[dict]] = {}
    for r in store.rows(Query.named("team.shared_answers", session_id=session_id)):
        answer = {"labeler": r["labeler"], "score": float(r["score"])}
        if r["class"]:
            answer["class"] = r["class"]
        out.setdefault(r["item_id"], []).append(answer)
    return out


def labeler_counts(store: Store, session_id: str) -> list[dict[str, Any]]:
    """Per labeler: their answers (positives, negatives, neutral; per class in a multi-class
    session) and how many of the session's labels are theirs (their answer is the item's newest)."""
    current = {
        r["labeler"]: int(r["labels"]) for r in store.rows(Query.named("team.label_counts", session_id=session_id))
    }
    out = []
    for r in store.rows(Query.named("team.answer_counts", session_id=session_id)):
        out.append(
            {
                "labeler": r["labeler"],
                "answers": int(r["answers"]),
                "positives": int(r["positives"]),
                "negatives": int(r["negatives"]),
                "neutral": int(r["neutral"]),
                "classes": {c: int(n) for c, n in zip(*r["per_class"])},
                "labels": current.get(r["labeler"], 0),
            }
        )
    return out


def kappa(a: list[str], b: list[str]) -> dict[str, Any]:
    """Cohen's kappa of two raters' categories on the same items (in order), with the observed
    agreement, chance agreement and an approximate 95% interval. kappa is None when chance
    agreement is 1 (one category throughout for both)."""
    n = len(a)
    if n == 0 or n != len(b):
        raise ValueError("kappa needs two equal, non-empty lists")
    po = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    pe = sum(ca[c] * cb[c] for c in ca) / (n * n)
    if pe >= 1.0:
        return {"observed": po, "expected": pe, "kappa": None, "kappa_low": None, "kappa_high": None}
    k = (po - pe) / (1 - pe)
    se = math.sqrt(po * (1 - po) / (n * (1 - pe) ** 2))
    return {
        "observed": po,
        "expected": pe,
        "kappa": k,
        "kappa_low": max(-1.0, k - Z95 * se),
        "kappa_high": min(1.0, k + Z95 * se),
    }


def agreement(shared: dict[str, list[dict]], min_items: int) -> list[dict[str, Any]]:
    """Cohen's kappa for every pair of labelers that answered some items both."""
    by_pair: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for answers in shared.values():
        cats = {a["labeler"]: category(a) for a in answers}
        for x, y in combinations(sorted(cats), 2):
            by_pair.setdefault((x, y), []).append((cats[x], cats[y]))
    out = []
    for (x, y), pairs in sorted(by_pair.items()):
        n = len(pairs)
        row: dict[str, Any] = {"labelers": [x, y], "items": n, "agreed": sum(p == q for p, q in pairs)}
        empty = {"observed": row["agreed"] / n, "kappa": None, "kappa_low": None, "kappa_high": None}
        if n < min_items:
            row.update(empty, enough=False)
            row["reason"] = (
                f"{n} item(s) labeled by both; agreement is reported from {min_items} (VECTRAIN_AGREEMENT_MIN_ITEMS)"
            )
        else:
            stats = kappa([p for p, _ in pairs], [q for _, q in pairs])
            row.update({k: stats[k] for k in empty}, enough=True)
            row["reason"] = (
                "" if stats["kappa"] is not None else "both labelers gave one and the same answer to every item"
            )
        out.append(row)
    return out


def disagreements(store: Store, session_id: str, limit: int = 200) -> dict[str, Any]:
    """The items labelers answered differently (for review, newest label first by item id), the
    agreement of each pair of labelers, and the per-labeler counts."""
    s = session_row(store, session_id)
    limit = check_int(limit, "limit", 1, store.settings.max_ids)
    shared = shared_answers(store, s["id"])
    differ = sorted(i for i, answers in shared.items() if len({category(a) for a in answers}) > 1)
    shown = differ[:limit]
    live = {r["item_id"]: r for r in store.rows(Query.named("team.session_labels_of", session_id=s["id"], ids=shown))}
    own = dataset_labels(store, s["dataset"], shown)
    items = []
    for i in shown:
        label = live.get(i)
        items.append(
            {
                "item_id": i,
                "label": own.get(i, ""),
                "score": float(label["score"]) if label else None,
                **({"class": label["class"]} if label and label["class"] else {}),
                "labeler": label["labeler"] if label else None,
                "answers": shared[i],
            }
        )
    return {
        "labelers": labeler_counts(store, s["id"]),
        "shared": len(shared),
        "disagreements": len(differ),
        "items": items,
        "agreement": agreement(shared, store.settings.agreement_min_items),
    }
