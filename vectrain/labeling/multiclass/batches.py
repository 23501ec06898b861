"""The next batch of a multi-class session: k unlabeled items with the predicted class, its
probability (`score`) and the margin to the runner-up, read from a round's scores
(vectrain.labeling.multiclass.scoring) with range reads.

    balanced  the default: one uniform random item per ten; the rest from a pool of the 5k
              smallest-margin items plus, for each class with no label yet, its most confident
              item (taken first); a pool item's key is its margin / (1 + deficit of its class),
              deficit = max(0, median labels per class - the class's labels) / (median + 1), so
              classes with few labels come first; taken in key order, skipping an item whose
              cosine to a labeled or picked item exceeds 0.92 (no new information) and any past
              ceil(k / 2) items of one predicted class
    margin    the k smallest margins: the items the classifier can least decide between two classes
    top       round-robin over classes (fewest labels first), each class's most confident items
    random    a uniform sample of the unlabeled items (a baseline)

Constants from the prototype's tuning seeds (bench/multiclass.py reports other seeds). Every
strategy returns exactly k items whenever k unlabeled items remain (random ones fill a short
read). Until a round knows two classes (a start vector or a label each), every strategy is random.
Items leased to labelers (vectrain.labeling.leases) are skipped as read, by every strategy and
the audit draws, and a named labeler's own leased items come first.
"""

from __future__ import annotations

import math
import secrets
import time
import zlib

import numpy as np

from vectrain.core.budget import Deadline
from vectrain.core.choices import ClassStrategy
from vectrain.core.errors import Forbidden
from vectrain.core.names import items_table
from vectrain.labeling import audit as session_audit
from vectrain.labeling import leases
from vectrain.labeling.multiclass import scoring, training
from vectrain.labeling.multiclass.model import ClassRound, ClassSession, get_round, label_counts
from vectrain.labeling.multiclass.vectors import VECTORS
from vectrain.storage.query import Query
from vectrain.storage.registry import random_picks
from vectrain.storage.store import Store

POOL_PER_SLOT = 5  # smallest-margin items read per batch slot
EXPLORE = 0.1  # share of the batch drawn uniformly at random (at least 1 when k >= 5)
TAU = 0.92  # near-duplicate: cosine to a labeled or picked item above this
CLASS_CAP = 0.5  # at most ceil(CLASS_CAP * k) picks of one predicted class
RANDOM_ROUNDS = 4  # rejection-sampling rounds before random falls back to a sorted scan


def next_batch(
    store: Store,
    row: dict,
    k: int,
    strategy,
    audit: int | None = None,
    record: bool = True,
    leased: tuple[str, ...] = (),
    own: list[tuple[str, str]] = (),
) -> dict:
    """k items (`leased` ones skipped), `own` ([(item, source)], the caller's leased items) first."""
    session = ClassSession.of(row)
    strategy = ClassStrategy.parse(strategy or ClassStrategy.balanced, "strategy")
    latest = get_round(store, session)
    counts = label_counts(store, session)
    deadline = Deadline(store.settings.batch_time_budget, "Scoring every item for the first batch")
    rnd = latest
    if latest.known >= 2:
        rnd = get_round(store, session, scoring.round_to_read(store, session, latest, deadline))
    picker = _Picker(store, session, rnd, counts, frozenset(leased))
    sources = dict(own)
    served = [{**i, "source": sources[i["id"]]} for i in picker.scored(list(sources)[:k])]
    rest = k - len(served)
    if rest <= 0:
        return leases.with_own(served, None, {"strategy": strategy.value, "round": int(latest.round)})
    audit_items = _audit_items(store, session, picker, rest, audit, record)
    taken = {i["id"] for i in audit_items}
    items = []
    rule = strategy if rnd.known >= 2 else ClassStrategy.random
    if rest > len(audit_items):
        chosen = picker.choose(rule, rest)
        items = [{**i, "source": strategy.value} for i in chosen if i["id"] not in taken][: rest - len(audit_items)]
    for item in audit_items:  # at random places: nothing in the order tells audit items apart
        items.insert(secrets.randbelow(len(items) + 1), item)
    more = {
        "items": items,
        "strategy": strategy.value,
        "round": int(latest.round),
        "audit": len(audit_items),
        "source": _source(rule, rnd, latest),
        "scored_round": int(rnd.round) if rnd.known >= 2 else None,
    }
    return leases.with_own(served, more, more)


RULES = {
    ClassStrategy.balanced: "balanced: smallest margins, classes with few labels first, no near-duplicates, "
    "a tenth at random",
    ClassStrategy.margin: "margin: the smallest gaps between the top two classes",
    ClassStrategy.top: "top: each class's most confident items in turn, fewest labels first",
    ClassStrategy.random: "random: uniform draws",
}


def _source(rule: ClassStrategy, rnd: ClassRound, latest: ClassRound) -> str:
    said = RULES[rule] if rnd.known >= 2 else "random: the classifier knows fewer than two classes yet"
    if rnd.round < latest.round:
        said += f" (round {latest.round} is being scored: round {rnd.round} chose)"
    return said


def score_items(store: Store, row: dict, ids: list[str]) -> dict:
    """Some items under the session's latest round: the predicted class, its probability and the
    margin to the runner-up, the dataset's label, and this session's label (the class) of each.
    Ids not in the dataset are left out."""
    from vectrain.labeling.multiclass.labels import classes_of

    session = ClassSession.of(row)
    rnd = get_round(store, session)
    where = {"db": store.database, "items": items_table(session.dataset)}
    present = {r["id"] for r in store.rows(Query.named("items.existing_ids", ids=ids, **where))}
    ids = [i for i in ids if i in present]
    yours = classes_of(store, session, ids)
    picker = _Picker(store, session, rnd, label_counts(store, session))
    items = [{k: v for k, v in item.items() if k != "url"} for item in picker.scored(ids)]
    return {"round": int(rnd.round), "items": [{**item, "your_label": yours.get(item["id"])} for item in items]}


def _audit_items(store: Store, session: ClassSession, picker, k: int, audit, record: bool) -> list[dict]:
    """Audit draws waiting for a label, then new ones (vectrain.labeling.audit's rules)."""
    want = session_audit.audit_count(session.audit_rate, audit, k)
    if want == 0 and not session.audit_rate:
        return []
    pending = store.rows(Query.named("audit.pending", session_id=session.id))
    again = [r["item_id"] for r in pending if r["item_id"] not in picker.skip][:k]
    new = max(0, want - len(again))
    if new and not record:
        raise Forbidden(
            "New audit draws are recorded with the session, and this API key may only read: "
            'ask with "audit": 0 to preview the batch.',
            session=session.id,
        )
    ids = list(again)
    if new:
        drawn = store.rows(
            Query.named("classes.audit_draw", session_id=session.id, salt=secrets.token_hex(16), k=new, **picker.where)
        )
        if drawn:
            batch = time.time_ns()
            store.insert(
                "audit_draws",
                [[session.id, batch, n, r["id"], int(picker.rnd.round), int(r["pool"])] for n, r in enumerate(drawn)],
                column_names=["session_id", "batch", "position", "item_id", "round", "pool"],
            )
        # A new draw leased to a labeler waits, pending, for a batch of theirs.
        ids += [r["id"] for r in drawn if r["id"] not in picker.skip]
    return [{**i, "source": "audit"} for i in picker.scored(ids)]


class _Picker:
    def __init__(self, store: Store, session: ClassSession, rnd: ClassRound, counts: dict, skip=frozenset()):
        self.store, self.session, self.rnd = store, session, rnd
        self.skip = skip  # items leased to labelers: read past, as labeled ones are
        self.per_class = np.asarray([counts["per_class"][c] for c in session.classes])
        self.labeled = int(counts["labeled"])
        self.dim = int(rnd.weights.shape[1])
        self.where = {"db": store.database, "items": items_table(session.dataset)}
        self.key = {"session_id": session.id, "round_no": int(rnd.round)}

    def choose(self, strategy: ClassStrategy, k: int) -> list[dict]:
        picks = {
            ClassStrategy.balanced: self.balanced,
            ClassStrategy.margin: self.margin,
            ClassStrategy.top: self.top,
            ClassStrategy.random: lambda k: [],
        }[strategy](k)
        if len(picks) < k:  # a short read (nearly everything labeled, rows added since scoring)
            taken = {p["id"] for p in picks}
            picks += [p for p in self.random(k + len(taken)) if p["id"] not in taken][: k - len(picks)]
        found = VECTORS.get(self.store, self.session, [p["id"] for p in picks[:k]], self.dim)
        return [{**p, "url": url, "label": label} for p, url, label in zip(picks[:k], found.urls, found.labels)]

    # -- reads of the round's scores ---------------------------------------------------------
    def _rows(self, query: Query) -> list[dict]:
        return [
            {"id": r["id"], "class": r["class"], "score": float(r["score"]), "margin": float(r["margin"])}
            for r in self.store.rows(query)
            if r["id"] not in self.skip
        ]

    def smallest_margins(self, k: int) -> list[dict]:
        rows = self._rows(Query.named("classes.smallest_margins", k=k + len(self.skip), **self.key))
        return rows[:k]

    def tops(self, classes: list[int], k: int) -> list[dict]:
        if not classes:
            return []
        names = [self.session.classes[c] for c in classes]
        rows = self._rows(Query.named("classes.class_tops", classes=names, k=k + len(self.skip), **self.key))
        place = {name: n for n, name in enumerate(names)}
        rows.sort(key=lambda r: (place[r["class"]], -r["score"], r["id"]))  # in the order asked
        out, per = [], dict.fromkeys(names, 0)  # k a class (the read asked for more, past leased items)
        for r in rows:
            per[r["class"]] += 1
            if per[r["class"]] <= k:
                out.append(r)
        return out

    # -- strategies --------------------------------------------------------------------------
    def margin(self, k: int) -> list[dict]:
        return self.smallest_margins(k)

    def top(self, k: int) -> list[dict]:
        active = [c for c in np.lexsort((np.arange(len(self.per_class)), self.per_class)) if self.rnd.active[c]]
        found = self.tops([int(c) for c in active[: 2 * k]], k)
        lists = {c: [r for r in found if r["class"] == self.session.classes[c]] for c in active[: 2 * k]}
        out: list[dict] = []
        while len(out) < k and any(lists.values()):
            for c in active[: 2 * k]:
                if lists[c] and len(out) < k:
                    out.append(lists[c].pop(0))
        if len(out) < k:
            taken = {r["id"] for r in out}
            out += [r for r in self.smallest_margins(2 * k) if r["id"] not in taken][: k - len(out)]
        return out

    def balanced(self, k: int) -> list[dict]:
        explore = max(1, round(EXPLORE * k)) if k >= 5 else 0
        m = k - explore
        med = float(np.median(self.per_class))
        deficit = np.maximum(0.0, med - self.per_class) / (med + 1.0)
        index = {c: i for i, c in enumerate(self.session.classes)}
        pool = self.smallest_margins(POOL_PER_SLOT * k)
        pool.sort(key=lambda r: (r["margin"] / (1.0 + deficit[index[r["class"]]]), r["id"]))
        unlabeled_classes = [c for c in range(len(self.per_class)) if self.per_class[c] == 0 and self.rnd.active[c]]
        order = list({r["id"]: r for r in self.tops(unlabeled_classes, 1) + pool}.values())
        V = VECTORS.get(self.store, self.session, [r["id"] for r in order], self.dim).vectors
        labeled_ids = [r["item_id"] for r in self.store.rows(Query.named("classes.labels", session_id=self.session.id))]
        L = VECTORS.get(self.store, self.session, labeled_ids, self.dim).vectors
        near = (V @ L.T).max(axis=1) if len(L) else np.full(len(order), -1.0)
        cap = math.ceil(CLASS_CAP * k)
        per = np.zeros(len(self.per_class), dtype=int)
        picked, picked_rows, skipped = [], [], []
        for j, r in enumerate(order):
            if len(picked) >= m:
                break
            c = index[r["class"]]
            duplicate = near[j] > TAU or (picked_rows and float((V[picked_rows] @ V[j]).max()) > TAU)
            if duplicate or per[c] >= cap:
                skipped.append(r)
                continue
            picked.append(r)
            picked_rows.append(j)
            per[c] += 1
        picked += skipped[: m - len(picked)]
        taken = {r["id"] for r in picked}
        return picked + [r for r in self.random(explore + len(taken)) if r["id"] not in taken][:explore]

    # -- uniform draws, scored here ------------------------------------------------------------
    def random(self, k: int) -> list[dict]:
        """k uniform unlabeled items at random (part, offset) positions, labeled ones rejected in
        the query; reproducible (seeded by the session, the round and the label count)."""
        registry = self.store.registry
        rng = np.random.default_rng(zlib.crc32(f"{self.session.id}:{self.rnd.round}:{self.labeled}".encode()))
        ids: list[str] = []
        seen: set[int] = set()
        for attempt in range(RANDOM_ROUNDS):
            parts = registry.parts(self.session.dataset, fresh=attempt > 0)
            total = sum(rows for _, rows in parts)
            unlabeled = total - self.labeled - len(self.skip)
            if unlabeled <= 0 or total == 0:
                break
            need = k - len(ids)
            draws = min(total, math.ceil(need * total / unlabeled * 1.3) + 8)
            picks = random_picks(rng, parts, draws, seen)
            order = {pick: n for n, pick in enumerate(picks)}
            rows = self.store.rows(
                Query.named("classes.rows_at", picks=picks, session_id=self.session.id, **self.where)
            )
            rows.sort(key=lambda r: order.get((r["part"], int(r["offset"])), len(order)))
            rows = [r for r in rows if r["id"] not in ids and r["id"] not in self.skip][:need]
            columns = [[r[c] for r in rows] for c in ("id", "url", "label", "vector")]
            VECTORS.put(self.store, self.session, *columns)
            ids += [r["id"] for r in rows]
            if len(ids) >= k:
                break
        if len(ids) < k:  # nearly everything is labeled (or the parts kept moving): a sorted scan
            salt = f"{self.session.id}:{self.labeled}"
            more = k + len(self.skip)
            rows = self.store.rows(
                Query.named("classes.unlabeled_sample", salt=salt, k=more, session_id=self.session.id, **self.where)
            )
            ids += [r["id"] for r in rows if r["id"] not in ids and r["id"] not in self.skip][: k - len(ids)]
        return self.scored(ids[:k])

    def scored(self, ids: list[str]) -> list[dict]:
        """These items with the round's prediction, computed here from their vectors."""
        if not ids:
            return []
        found = VECTORS.get(self.store, self.session, ids, self.dim)
        items = [{"id": i, "url": u, "label": x} for i, u, x in zip(ids, found.urls, found.labels)]
        if self.rnd.known < 2:
            return [{**item, "class": None, "score": None, "margin": None} for item in items]
        s = training.score(found.vectors, self.rnd.weights, self.rnd.biases, self.rnd.active)
        return [
            {
                **item,
                "class": self.session.classes[int(s.top[n])],
                "score": float(s.score[n]),
                "margin": float(s.margin[n]),
            }
            for n, item in enumerate(items)
        ]
