"""A multi-class session as the code sees it: its classes and their start vectors, its rounds
(a weight row and a bias per class), and its label counts per class."""

from __future__ import annotations

import json
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from vectrain.core.errors import BadInput, RoundNotFound
from vectrain.core.validation import check_round
from vectrain.labeling.state import session_row
from vectrain.storage.query import Floats, Query
from vectrain.storage.store import Store

MIN_CLASSES, MAX_CLASSES = 2, 100
MAX_CLASS_CHARS = 64


def check_classes(classes: Any) -> list[str]:
    """2 to 100 distinct class names: text of 1 to 64 characters without control characters
    (they become SQL string literals and the page's key labels)."""
    if not isinstance(classes, (list, tuple)) or not MIN_CLASSES <= len(classes) <= MAX_CLASSES:
        raise BadInput(
            f'classes: give {MIN_CLASSES} to {MAX_CLASSES} class names, e.g. "classes": ["cat", "dog"]',
            field="classes",
        )
    out = []
    for c in classes:
        if not isinstance(c, str) or not c.strip() or len(c.strip()) > MAX_CLASS_CHARS:
            raise BadInput(f"classes: {c!r} is not a name of 1 to {MAX_CLASS_CHARS} characters", field="classes")
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in c):
            raise BadInput(f"classes: {c!r} has control characters", field="classes")
        out.append(c.strip())
    dupes = sorted({c for c in out if out.count(c) > 1})
    if dupes:
        raise BadInput(f"classes: {', '.join(map(repr, dupes))} given more than once", field="classes")
    return out


@dataclass(frozen=True)
class ClassSession:
    id: str
    dataset: str
    name: str
    classes: tuple[str, ...]
    labelset: str = ""
    audit_rate: float = 0.0

    @classmethod
    def of(cls, row: dict) -> ClassSession:
        """From a session row (vectrain.labeling.state.session_row) of a multi-class session."""
        return cls(
            row["id"],
            row["dataset"],
            row["name"],
            tuple(row["classes"]),
            row.get("labelset") or "",
            float(row.get("audit_rate") or 0.0),
        )

    def index(self, name: str, what: str) -> int:
        """The position of a class name; BadInput naming the session's classes otherwise."""
        try:
            return self.classes.index(name)
        except ValueError:
            shown = ", ".join(self.classes[:20]) + (" ..." if len(self.classes) > 20 else "")
            raise BadInput(
                f"{what}: session {self.name!r} has no class {name!r}; its classes are {shown}; nothing was stored",
                field=what,
                session=self.id,
            ) from None


_kinds: OrderedDict = OrderedDict()  # (database, session id) -> True for a multi-class session
_kinds_lock = threading.Lock()
KIND_CACHE = 100_000


def is_multiclass(store: Store, session_id: str) -> bool:
    """Whether a session has classes. A session never changes kind and an id is never reused, so
    the answer is kept: a binary next batch stays one query. SessionNotFound for no session."""
    key = (store.database, session_id)
    with _kinds_lock:
        if key in _kinds:
            return _kinds[key]
    kind = bool(session_row(store, session_id)["classes"])
    with _kinds_lock:
        _kinds[key] = kind
        while len(_kinds) > KIND_CACHE:
            _kinds.popitem(last=False)
    return kind


def starts(store: Store, session_id: str, classes: int) -> list[np.ndarray | None]:
    """Each class's start vector (from the label set), None for a class that started unknown."""
    rows = store.rows(Query.named("classes.prior", id=session_id))
    prior = list(rows[0]["class_prior"]) if rows else []
    out: list[np.ndarray | None] = [None] * classes
    for c, v in enumerate(prior[:classes]):
        v = np.asarray(v, dtype=np.float32)
        out[c] = v if len(v) and np.any(v) else None  # a zero row: the class started unknown
    return out


# -- rounds ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClassRound:
    round: int
    mode: str
    weights: np.ndarray  # float32 [classes, dim]
    biases: np.ndarray  # float32 [classes]
    active: np.ndarray  # bool [classes]
    metrics: dict
    created: str

    @property
    def known(self) -> int:
        """How many classes the round can tell apart (fewer than two: it cannot rank anything)."""
        return int(self.active.sum())


_rounds: OrderedDict = OrderedDict()  # (database, session, round) -> ClassRound: a round never changes
_rounds_lock = threading.Lock()
ROUND_CACHE = 64


def insert_round(store: Store, session_id: str, round_no: int, mode: str, model, claimant: str = "") -> None:
    query = Query.named(
        "classes.insert_round",
        session_id=session_id,
        round_no=int(round_no),
        mode=mode,
        weights=Floats(np.asarray(model.weights, np.float32).ravel()),
        biases=Floats(np.asarray(model.biases, np.float32)),
        active=[int(a) for a in model.active],
        metrics=json.dumps(model.metrics),
        claimant=claimant,
    )
    if claimant:  # the first insert of (session, round) wins, as binary rounds' (labeling.rounds)
        query = query.with_settings(insert_deduplication_token=f"round:{session_id}:{int(round_no)}")
    store.command(query)


def store_next_round(store: Store, session_id: str, after: int, mode: str, model) -> int:
    """Store a new round numbered after `after` and return its number: storing it claims the
    number (vectrain.labeling.rounds.store_next_round), so a kill leaves no gap."""
    claimant = uuid.uuid4().hex
    round_no = int(after) + 1
    while True:
        insert_round(store, session_id, round_no, mode, model, claimant=claimant)
        winner = store.scalar(Query.named("sessions.round_claimant", session_id=session_id, round_no=round_no))
        if winner == claimant:
            return round_no
        round_no += 1


def get_round(store: Store, session: ClassSession, round_no: int | None = None) -> ClassRound:
    """Round `round_no` of a session (its latest when None), cached in this process."""
    if round_no is None:
        round_no = latest_round_no(store, session.id)
    round_no = check_round(round_no)
    key = (store.database, session.id, round_no)
    with _rounds_lock:
        if key in _rounds:
            _rounds.move_to_end(key)
            return _rounds[key]
    rows = store.rows(Query.named("classes.round", session_id=session.id, round_no=round_no))
    if not rows:
        raise RoundNotFound(f"Session {session.id!r} has no round {round_no}", session=session.id, round=round_no)
    r = rows[0]
    C = len(session.classes)
    weights = np.asarray(r["weights"], dtype=np.float32)
    found = ClassRound(
        int(r["round"]),
        r["mode"],
        weights.reshape(C, len(weights) // C),
        np.asarray(r["biases"], dtype=np.float32),
        np.asarray(r["active"], dtype=bool),
        json.loads(r["metrics"] or "{}"),
        str(r["created"]),
    )
    with _rounds_lock:
        _rounds[key] = found
        while len(_rounds) > ROUND_CACHE:
            _rounds.popitem(last=False)
    return found


def latest_round_no(store: Store, session_id: str) -> int:
    row = store.rows(Query.named("classes.latest_round", session_id=session_id))[0]
    if not int(row["rounds"]):
        raise RoundNotFound(f"Session {session_id!r} has no rounds", session=session_id)
    return int(row["round"])


# -- labels ------------------------------------------------------------------------------------
def label_counts(store: Store, session: ClassSession) -> dict[str, Any]:
    """The session's labels: how many, and how many of each class (in the session's order). The
    binary counts are 0: every label here names a class."""
    found = {r["class"]: int(r["n"]) for r in store.rows(Query.named("classes.label_counts", session_id=session.id))}
    per_class = {c: found.get(c, 0) for c in session.classes}
    return {"labeled": sum(found.values()), "positives": 0, "negatives": 0, "neutral": 0, "per_class": per_class}
