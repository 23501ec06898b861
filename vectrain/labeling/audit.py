"""Audit sampling in sessions: random audit draws in next batches and label provenance; the
estimate they give is vectrain.labeling.estimates.

Whether a label is an audit label is decided by the service alone, so it cannot be spoofed into
biasing the estimate:
- audit draws are random over the items neither labeled nor drawn before, by a known design that
  favours the items the session's predictor is unsure of (vectrain.labeling.estimators), in the
  order of a keyed hash with a secret salt (nobody can predict or steer them), and recorded in
  `audit_draws` with the probability each had;
- a draw waiting for its label is served again, first, in every later batch of a session that
  audits, and never drawn twice: a client cannot re-draw until it gets items it likes;
- an item ever drawn is an audit label whatever path labels it, and only such an item is: a
  label that claims `source: audit` for anything else is refused;
- audit labels are held out of training, so the classifier being measured never saw them.
What a client reports for other labels (the strategy and round that served them) is recorded as
provenance and does not enter the estimate: those labels count as known exactly, however chosen.
A client can still leave audit items unlabeled: they count as `audit_pending`, and the estimate
uses labeled draws only.

Sessions without audit keep the one-query next batch: nothing is read or written for them.
"""

from __future__ import annotations

import math
import secrets
import time
from typing import Any

from vectrain.core.choices import ClassStrategy, Strategy
from vectrain.core.errors import BadInput, Forbidden
from vectrain.core.names import items_table
from vectrain.core.validation import check_int, check_round
from vectrain.storage.query import Floats, Query
from vectrain.storage.store import Store

_random = secrets.SystemRandom()
SOURCES = tuple(dict.fromkeys(("user", "audit", *Strategy.values(), *ClassStrategy.values())))


# -- next batches ------------------------------------------------------------------------------
def audit_count(rate: float, audit: int | None, k: int) -> int:
    """Audit items wanted in a batch of k: the request's `audit`, else `rate` of k (a fractional
    part is rounded up with that probability, so the share is exact on average whatever k is)."""
    if audit is not None:
        return check_int(audit, "audit", 0, k)
    expected = float(rate or 0.0) * k
    whole = math.floor(expected)
    return min(k, whole + (1 if _random.random() < expected - whole else 0))


def next_batch(
    store: Store, state, k: int, strategy: Strategy, audit: int | None = None, record: bool = True
) -> dict[str, Any]:
    """k items: audit draws waiting for a label, new audit draws, then the strategy's picks.

    `state` is the session's (vectrain.labeling.state.State). New draws are recorded, so they need a
    caller that may write (`record`); a read-only caller previews the batch without them."""
    from vectrain.labeling.batches import choose

    want = audit_count(state.audit_rate, audit, k)
    if want == 0 and not state.audit_rate:  # no audit: the strategy's batch alone
        batch = choose(store, state, k, strategy)
        return _answer(state, strategy, batch, [{**i, "source": strategy.value} for i in batch.items], 0)
    leased = set(state.leased)  # leased to a labeler (vectrain.labeling.leases): theirs to label
    pending = [
        r["item_id"]
        for r in store.rows(Query.named("audit.pending", session_id=state.id))
        if r["item_id"] not in leased
    ]
    again = pending[:k]
    new = max(0, want - len(again))
    if new and not record:
        raise Forbidden(
            "New audit draws are recorded with the session, and this API key may only read: "
            'ask with "audit": 0 to preview the batch.',
            session=state.id,
        )
    w, b = state.round["weights"], float(state.round["bias"])
    where = {"db": store.database, "items": items_table(state.dataset)}
    audit_items = []
    if again:
        rows = {r["id"]: r for r in store.rows(Query.named("audit.scored", w=Floats(w), b=b, ids=again, **where))}
        audit_items += [_item(rows[i]) for i in again if i in rows]
    if new:
        # A new draw leased to a labeler waits, pending, for a batch of theirs.
        audit_items += [_item(r) for r in draw(store, state, new, where) if r["id"] not in leased]
    items, batch = [], None
    if k > len(audit_items):
        # The strategy picks from the unlabeled items minus the audit ones: ask for as many more
        # as the audit items it might return, and drop those.
        taken = {i["id"] for i in audit_items}
        batch = choose(store, state, k, strategy)
        items = [{**i, "source": strategy.value} for i in batch.items if i["id"] not in taken][: k - len(audit_items)]
    for item in audit_items:  # at random places: nothing in the order tells audit items apart
        items.insert(_random.randint(0, len(items)), item)
    return _answer(state, strategy, batch, items, len(audit_items))


def _answer(state, strategy: Strategy, batch, items: list[dict], audited: int) -> dict[str, Any]:
    return {
        "items": items,
        "strategy": strategy.value,
        "round": int(state.round["round"]),
        "audit": audited,
        "source": batch.source if batch else "audit draws only",
        "scored_round": batch.scored_round if batch else None,
    }


DRAW_COLUMNS = [
    "session_id", "batch", "position", "item_id", "round", "pool", "design_round", "pv_a", "pv_b", "floor",
    "design_sum", "weight", "normalizer", "items",
]  # fmt: skip


def draw(store: Store, state, k: int, where: dict) -> list[dict]:
    """k new audit draws by the session's design (the newest predictor at or before the current
    round; uniform without one), recorded with the probability each had when drawn."""
    round_no = int(state.round["round"])
    design = store.rows(Query.named("audit.design", session_id=state.id, round=round_no))
    design_round, pv_a, pv_b = (int(design[0]["round"]), design[0]["pv_a"], design[0]["pv_b"]) if design else (-1, 1, 0)
    floor = store.settings.audit_floor
    drawn = store.rows(
        Query.named(
            "audit.draw", session_id=state.id, salt=_salt(), k=k, floor=floor, design_round=design_round,
            pv_a=float(pv_a), pv_b=float(pv_b), **where,
        )
    )  # fmt: skip
    if not drawn:
        return []
    items = store.registry.count_rows(state.dataset)
    batch, left, records = time.time_ns(), float(drawn[0]["total"]), []
    for n, r in enumerate(drawn):  # each draw's pool is the batch's minus its earlier draws
        weight = float(r["weight"])
        records.append(
            [state.id, batch, n, r["id"], round_no, int(r["pool"]), design_round, float(pv_a), float(pv_b), floor,
             float(r["design_sum"]), weight, max(left, weight), items]
        )  # fmt: skip
        left -= weight
    store.insert("audit_draws", records, column_names=DRAW_COLUMNS)
    w, b = state.round["weights"], float(state.round["bias"])
    scored = {
        r["id"]: r
        for r in store.rows(Query.named("audit.scored", w=Floats(w), b=b, ids=[r["id"] for r in drawn], **where))
    }
    return [scored[r["id"]] for r in drawn if r["id"] in scored]


def _salt() -> str:
    """A fresh secret for each draw: nobody can predict or reproduce which items it picks."""
    return secrets.token_hex(16)


def _item(row: dict) -> dict:
    return {"id": row["id"], "url": row["url"], "label": row["label"], "score": float(row["score"]), "source": "audit"}


# -- labels ------------------------------------------------------------------------------------
def provenance(label: dict, what: str) -> tuple[str, int]:
    """(source, round) a label reports: how it was sampled (default user: picked by hand), and the
    round that served it (-1: none)."""
    source, round_no = label.get("source"), label.get("round")
    if source is None:
        source = "user"
    elif source not in SOURCES:
        raise BadInput(f"{what}: unknown source {source!r}: use one of {', '.join(SOURCES)}", field=what)
    return source, (-1 if round_no is None else check_round(round_no))


def provenance_of(row: dict) -> dict:
    """A stored label's provenance, as the API shows it."""
    return {
        "source": row["source"],
        "audit": bool(row["audit"]),
        "round": int(row["served_round"]) if row["served_round"] >= 0 else None,
    }


def check_claims(store: Store, session_id: str, ids, sources) -> None:
    """A label that claims to be an audit label must have been drawn for this session's audit
    (the estimate's weights depend on it): else BadInput, and nothing is stored."""
    claimed = [i for i, source in zip(ids, sources) if source == "audit"]
    if not claimed:
        return
    drawn = {r["item_id"] for r in store.rows(Query.named("audit.drawn_among", session_id=session_id, ids=claimed))}
    false = [i for i in claimed if i not in drawn]
    if false:
        raise BadInput(
            f"{len(false)} label(s) claim source audit but were never drawn for this session's "
            f"audit, e.g. {false[:5]}; nothing was stored",
            field="labels",
            items=false[:5],
        )


def insert_labels(
    store: Store,
    session_id: str,
    ids: list[str],
    scores: list[float],
    reported: list[tuple[str, int]],
    version: int,
    before=None,
    labeler: str = "",
) -> None:
    """Store a batch of labels with their provenance (sql/queries/audit.sql): one INSERT. A label
    that claims to be an audit label must be one: else nothing is stored. `reported`: each
    label's (source, round), from `provenance`. `before()` runs once the batch is accepted, just
    before it is written (the label history); `labeler` gave them."""
    sources, rounds = [p[0] for p in reported], [p[1] for p in reported]
    check_claims(store, session_id, ids, sources)
    if before is not None:
        before()
    store.command(
        Query.named(
            "audit.insert_labels",
            session_id=session_id,
            ids=list(ids),
            scores=[float(s) for s in scores],
            sources=list(sources),
            rounds=[int(r) for r in rounds],
            version=int(version),
            labeler=labeler,
        )
    )
