"""Classifier training sessions: create, read, next batch, labels, train (the results of a round,
applied and published, are vectrain.api.results; the labels' models are vectrain.api.label_models).

Endpoints are sync functions: FastAPI runs them in its threadpool, and the one client of the
store serializes their SQL, so concurrent label writes each land as their own INSERT.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Request as FastAPIRequest
from pydantic import BaseModel, ConfigDict, Field

from vectrain.api import schema
from vectrain.api.class_models import ClassEstimate, ClassStart, class_field
from vectrain.api.deps import LabelerDep, StoreDep, in_thread
from vectrain.api.label_models import LabelBatch, LabelCounts, LabelList, LabelsRemoved, LabelsStored, UndoResult
from vectrain.api.models import Request, api_router
from vectrain.api.security import may_write, reads
from vectrain.api.team import LabelerCount
from vectrain.core.choices import ClassStrategy, Strategy, TrainMode
from vectrain.core.validation import MAX_ID_CHARS
from vectrain.labeling import history, inspect, labels
from vectrain.labeling import sessions as svc

router = api_router("sessions")


class CreateSession(ClassStart):
    """Exactly one of prompt, vector, positive_ids or classes (negative_ids go with positive_ids;
    labelset and examples with classes)."""

    model_config = ConfigDict(
        json_schema_extra=schema.all_of(
            schema.exactly_one("prompt", "vector", "positive_ids", "classes"),
            schema.requires("negative_ids", "positive_ids"),
            schema.requires("labelset", "classes"),
            schema.requires("examples", "classes"),
        )
    )

    dataset: str = Field(json_schema_extra=schema.NAME)
    name: str = Field(
        description="lowercase letters, digits, _ (no __); the classifier is published as the view clf_<name>",
        json_schema_extra=schema.SESSION_NAME,
    )
    prompt: str | None = Field(
        None, description="start from this text's embedding (needs a text encoder)", json_schema_extra=schema.text()
    )
    vector: list[float] | None = Field(None, description="start from this vector", json_schema_extra=schema.VECTOR)
    positive_ids: list[str] | None = Field(
        None,
        description="start from the normalized mean of these items",
        json_schema_extra={**schema.ids(), "minItems": 1},
    )
    negative_ids: list[str] | None = Field(
        None,
        json_schema_extra=schema.ids(),
        description="with positive_ids: items that are not what you want. The start is "
        "avg(positives) + (avg(positives) - avg(negatives)), as search's average_vector; "
        "the examples are stored as labels (+1 and -1)",
    )
    audit_rate: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Share of each next batch drawn at random for the audit (e.g. 0.3: 3 of 10), "
        "unless a request says otherwise. Audit labels measure the classifier (the session's "
        "estimate) and are held out of training",
    )


class NextRequest(Request):
    k: int = Field(10, ge=1, description="How many items (at most VECTRAIN_SEARCH_MAX_K)", json_schema_extra=schema.K)
    strategy: Strategy | ClassStrategy | None = Field(
        None,
        description="A binary session: mixed (default), top, boundary, random. A multi-class session: "
        "balanced (default), margin, top, random",
    )
    audit: int | None = Field(
        None,
        ge=0,
        description="How many of the k items are random audit draws (at most "
        "k; default: the session's audit_rate). Audit draws "
        "waiting for a label are served again first",
    )


ItemId = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS)]


class ItemIds(Request):
    item_ids: list[ItemId] = Field(min_length=1, description="Distinct item ids (at most VECTRAIN_MAX_IDS)")


class TrainRequest(Request):
    mode: TrainMode = TrainMode.auto


class RoundInfo(BaseModel):
    round: int
    mode: str
    bias: float
    threshold: float
    metrics: dict[str, Any] = Field(
        description="labeled, positives, negatives; quality: the round's F1 over the whole dataset estimated "
        "from its labels without assuming they were a random sample (f1 with a 95% interval f1_low..f1_high, "
        "or null and a message such as 'too few positives to judge'); labels_cv_f1: the cross-fitted F1 on "
        "the labels themselves (chosen on purpose, so not the classifier's F1); threshold_source; ..."
    )
    created: str


class Estimate(BaseModel):
    """The classifier of `round` over the whole dataset, estimated from every item's predicted
    probability and the audit labels (drawn by a recorded design that favours uncertain items):
    unbiased, with 95% intervals, and the stop rule."""

    round: int = Field(description="the round whose classifier is measured")
    precision: float | None
    precision_low: float | None
    precision_high: float | None
    recall: float | None
    recall_low: float | None
    recall_high: float | None
    f1: float | None
    f1_low: float | None
    f1_high: float | None
    positives: float | None = Field(description="estimated positives in the whole dataset")
    positives_low: float | None
    positives_high: float | None
    audited: int | None = Field(description="audit labels the estimate uses (null: every item is labeled, exact)")
    audit_pending: int = Field(description="audit items served and not labeled yet (not used)")
    labeled: int
    items: int
    predicted_positive: int = Field(description="items the classifier calls positive (exact)")
    f1_at_least: float | None = Field(description="the stop rule: F1 is at least this with 95% confidence")
    more_labels: int = Field(
        description="the stop rule's projection: this many more labels (VECTRAIN_ESTIMATE_MORE_LABELS)"
    )
    narrow_by: float | None = Field(description="about how much narrower the F1 interval would be after more_labels")
    width: float | None = Field(description="the F1 interval's width now")
    width_after: float | None = Field(description="its projected width after more_labels")
    stop: bool = Field(
        description="hint: more_labels more labels would narrow the F1 interval by less than "
        "VECTRAIN_ESTIMATE_STOP_GAIN"
    )
    stop_reason: str = Field(description="the stop rule in words")
    history: list[dict[str, Any]] = Field(description="the estimates of the latest rounds' classifiers, oldest first")


class SessionInfo(BaseModel):
    id: str
    dataset: str
    name: str
    source: str
    prompt: str | None
    created: str
    round: int
    labels: LabelCounts
    labelers: list[LabelerCount] = Field(default_factory=list, description="label counts per labeler")
    rounds: list[RoundInfo]
    function: str = Field(description="the published SQL function (after apply)")
    view: str = Field(description="the published view, database.clf_<name> (after apply)")
    audit_rate: float = Field(0.0, description="share of each next batch drawn for the audit")
    estimate: Estimate | ClassEstimate | None = Field(
        None, description="null until VECTRAIN_ESTIMATE_MIN_AUDIT audit labels (and a round trained after them)"
    )
    estimating: bool = Field(
        False, description="a newer round's estimate is being computed (in the background): read again shortly"
    )
    classes: list[str] | None = class_field("a multi-class session's classes")
    labelset: str | None = class_field("the label set the classes' start vectors came from")
    active: list[bool] | None = class_field("the classes the latest round can predict")
    scored_round: int | None = class_field("the newest round whose scores of every item are stored")


class SessionSummary(BaseModel):
    id: str
    dataset: str
    name: str
    source: str
    created: str
    classes: list[str] | None = class_field("a multi-class session's classes")


class BatchItem(BaseModel):
    id: str
    url: str
    label: str = Field(description="the item's own label in the dataset ('' when it has none)")
    score: float | None = Field(
        description="the classifier's score dot(w, v) + b; a multi-class session: the predicted class's "
        "probability (null until the classifier knows two classes)"
    )
    source: str = Field(
        description="audit (a random draw by the recorded design; a multi-class session's are uniform), or the "
        "strategy that chose it"
    )
    class_: str | None = class_field("a multi-class session: the predicted class", alias="class")
    margin: float | None = class_field("a multi-class session: the top probability minus the runner-up's")


class NextBatch(BaseModel):
    items: list[BatchItem]
    strategy: str
    round: int = Field(description="the session's latest round")
    audit: int = Field(description="how many of the items are audit draws")
    source: str = Field(
        description="what chose the items: the strategy's rule, or the starter while the labels hold one "
        "class only (e.g. 'starter (only positives labeled): 5 top-scored + 5 diverse near the score at rank "
        "2,400 of 300,000')"
    )
    scored_round: int | None = Field(
        description="the round whose scores of every row chose the items (it trails `round` while a large "
        "table is scored in the background); null: an exact scan or uniform random draws. A multi-class "
        "session: the round whose classifier predicted the items (null until it knows two classes)"
    )
    lease_seconds: float | None = Field(
        None,
        description="the items are leased to the caller (a named labeler) for this long: other labelers' "
        "batches skip them, and the caller's next batches serve them again first until labeled; null: no lease",
    )


class ScoredItem(BaseModel):
    id: str
    label: str = Field(description="the item's own label in the dataset")
    score: float | None = Field(
        description="dot(w, v) + b under the latest round; a multi-class session: the predicted class's probability"
    )
    margin: float | None = Field(
        description="score - threshold: positive when > 0 (what the published SQL function returns); a "
        "multi-class session: the top probability minus the runner-up's"
    )
    positive: bool | None = class_field("a binary session: the decision")
    class_: str | None = class_field("a multi-class session: the predicted class", alias="class")
    your_label: float | str | None = Field(
        description="this session's label of the item (a multi-class session's: the class), null when none"
    )


class Scores(BaseModel):
    round: int
    threshold: float | None = class_field("a binary session's threshold")
    items: list[ScoredItem] = Field(description="in the order asked; ids not in the dataset are left out")


class TrainResult(BaseModel):
    round: int
    mode: str
    bias: float
    threshold: float
    metrics: dict[str, Any]


@router.post("/sessions", status_code=201, response_model=SessionInfo)
def create_session(body: CreateSession, store: StoreDep, labeler: LabelerDep):
    """Start a classifier from a prompt, a vector or example items (round 0). Give exactly one.
    With `classes`, a multi-class session, started from a `labelset`, `examples`, both, or neither."""
    return svc.create_session(
        store,
        body.dataset,
        body.name,
        prompt=body.prompt,
        vector=body.vector,
        positive_ids=body.positive_ids,
        negative_ids=body.negative_ids,
        audit_rate=body.audit_rate,
        classes=body.classes,
        labelset=body.labelset,
        examples=body.examples,
        labeler=labeler,
    )


@router.get("/sessions", response_model=list[SessionSummary])
def list_sessions(store: StoreDep):
    return svc.list_sessions(store)


@router.get("/sessions/{session_id}", response_model=SessionInfo)
def get_session(session_id: str, store: StoreDep):
    """The session, its rounds (threshold, metrics), label counts, and the `estimate` of the
    current classifier over the whole dataset from its audit labels (precision, recall, F1 and
    positives with 95% intervals, and the stop rule), null until there are enough. The estimate
    is computed after each training round in the background: it names its round, and
    `estimating` says a newer one is on its way."""
    return svc.get_session(store, session_id)


@router.post("/sessions/{session_id}/next", response_model=NextBatch)
@reads
async def next_batch(
    session_id: str, store: StoreDep, request: FastAPIRequest, labeler: LabelerDep, body: NextRequest | None = None
):
    """k items not yet labeled in this session. `mixed` (default) returns likely positives and
    the items nearest the decision threshold; `top` is the seeds' query; `random` a baseline.
    `audit` of them (default: the session's audit_rate) are random draws that measure the
    classifier (`source: audit`); draws waiting for a label come back first. New draws are
    recorded, so they need a key that may write: a read key previews with `"audit": 0`. A named
    labeler (a named key, or the X-Vectrain-Labeler header) leases the items for
    VECTRAIN_LEASE_SECONDS: other labelers' batches skip them, and the labeler's next batch serves
    them again first until they are labeled."""
    body = body or NextRequest()
    strategy = body.strategy.value if body.strategy is not None else None
    return await in_thread(
        svc.next_batch,
        store,
        session_id,
        body.k,
        strategy,
        audit=body.audit,
        record=may_write(request),
        labeler=labeler,
    )


@router.post("/sessions/{session_id}/labels", response_model=LabelsStored)
async def add_labels(session_id: str, body: LabelBatch, store: StoreDep, labeler: LabelerDep):
    """Store labels, all or none; re-labeling an item replaces its label (whoever gave it: the
    newest label is the session's, each labeler's own answer is kept for agreement). Send each
    item's `source` and `round` from the next batch that served it: every label records how it
    was sampled, and who gave it (a named key's name, or the X-Vectrain-Labeler header)."""
    labels_given = [label.model_dump(by_alias=True, exclude_none=True) for label in body.labels]
    return await in_thread(labels.add_labels, store, session_id, labels_given, labeler)


@router.get("/sessions/{session_id}/labels", response_model=LabelList)
def get_labels(session_id: str, store: StoreDep):
    return {"labels": labels.get_labels(store, session_id)}


@router.delete("/sessions/{session_id}/labels/{item_id:path}", response_model=LabelsRemoved)
def remove_label(session_id: str, item_id: str, store: StoreDep, labeler: LabelerDep):
    """Remove one label (undo). 404 when the item is not labeled in this session."""
    return labels.remove_labels(store, session_id, [item_id], labeler)


@router.post("/sessions/{session_id}/labels/remove", response_model=LabelsRemoved)
async def remove_labels(session_id: str, body: ItemIds, store: StoreDep, labeler: LabelerDep):
    """Remove several labels as one action (one undo step), all or none: 404 when an item is not
    labeled in this session."""
    return await in_thread(labels.remove_labels, store, session_id, body.item_ids, labeler)


@router.post("/sessions/{session_id}/labels/undo", response_model=UndoResult)
async def undo_labels(session_id: str, store: StoreDep, labeler: LabelerDep):
    """Take back the caller's newest change of this session's labels not undone yet: a batch of
    labels (however many items), or a removal. What it replaced is the label again; an item it
    labeled for the first time has no label again; an item another labeler labeled since keeps
    their label (`kept`). Repeat to walk back through your history; 404 `nothing_to_undo` when
    every change of yours is undone."""
    return await in_thread(history.undo, store, session_id, labeler)


@router.post("/sessions/{session_id}/scores", response_model=Scores)
@reads
async def score_items(session_id: str, body: ItemIds, store: StoreDep):
    """Some items under the session's latest round: score, margin over the threshold and the
    decision, the dataset's label, and this session's label of each."""
    return await in_thread(inspect.score_items, store, session_id, body.item_ids)


@router.post("/sessions/{session_id}/train", response_model=TrainResult)
def train(session_id: str, store: StoreDep, body: TrainRequest | None = None):
    """Train a new round on all labels: `auto` (default) or `seed` (the seeds' exact update)."""
    return svc.train_round(store, session_id, (body or TrainRequest()).mode)
