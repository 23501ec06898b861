"""Zero-shot, kNN and tourney classification; evaluation reports (label sets: api/labelsets.py)."""

from __future__ import annotations

from typing import Any

from fastapi import Request as FastAPIRequest
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from vectrain.api import schema
from vectrain.api.deps import StoreDep
from vectrain.api.jobs import JOB_ACCEPTED, runner, submit
from vectrain.api.models import Request, api_router
from vectrain.api.security import reads, require_write
from vectrain.classify import evaluation, knn, labelsets, tourney, zeroshot
from vectrain.core.budget import AS_A_JOB, Deadline
from vectrain.core.choices import EvalMethod, Weighting
from vectrain.core.errors import BadInput
from vectrain.core.names import items_table
from vectrain.storage.query import Query
from vectrain.storage.store import Store

router = api_router("classify")


# -- zero-shot -------------------------------------------------------------------------------
class LabelSetQuery(Request):
    """What zero-shot and the tourney classify: at most one of a split, items, vectors or texts
    (with none of them, the whole dataset)."""

    model_config = ConfigDict(json_schema_extra=schema.at_most_one("split", "item_ids", "vectors", "text"))

    dataset: str = Field(json_schema_extra=schema.NAME)
    labelset: str = Field(json_schema_extra=schema.NAME)
    split: str | None = Field(None, description="Classify this split", json_schema_extra=schema.SPLIT)
    item_ids: list[str] | None = Field(
        None, description="Classify these items", json_schema_extra={**schema.ids(), "minItems": 1}
    )
    vectors: list[list[float]] | None = Field(
        None, description="Classify these vectors", json_schema_extra=schema.vectors()
    )
    text: list[str] | None = Field(
        None, description="Classify these texts (needs a text encoder)", json_schema_extra=schema.texts()
    )


class ZeroShotRequest(LabelSetQuery):
    model_config = ConfigDict(
        json_schema_extra=schema.all_of(
            schema.at_most_one("split", "item_ids", "vectors", "text"),
            {  # "wait": false is for a whole dataset or split
                "not": {
                    "required": ["wait"],
                    "properties": {"wait": {"const": False}},
                    "anyOf": [schema.given("item_ids"), schema.given("vectors"), schema.given("text")],
                }
            },
        )
    )

    top: int = Field(
        5, ge=1, description="Labels listed per item in `top` (at most 1000)", json_schema_extra={"maximum": 1000}
    )
    limit: int | None = Field(
        zeroshot.DEFAULT_RETURN_LIMIT,
        ge=0,
        json_schema_extra={"maximum": zeroshot.MAX_RETURN_LIMIT},
        description="At most this many items in the response (split and whole-dataset "
        "runs are all stored in table zero_shot)",
    )
    scores: StrictBool = Field(
        False,
        description="Also store every row's similarity to every label (zero_shot.scores); "
        "by default rows keep the label, score, margin and top 5",
    )
    wait: StrictBool = Field(True, description="false (a whole dataset or split): run as a job and answer 202 with it")


class ZeroShotItem(BaseModel):
    id: str | None
    label: str
    score: float = Field(description="cosine similarity to the winning label")
    margin: float = Field(description="best minus second-best similarity")
    top: list[tuple[str, float]]


class ZeroShotResponse(BaseModel):
    items: list[ZeroShotItem]
    stored: int = Field(description="rows written to table zero_shot (whole dataset or split runs)")
    truncated: bool = False
    table: str | None = None
    run_at: str | None = Field(None, description="zero_shot.run_at of the stored rows")
    seconds: float
    plan: str


@router.post("/classify/zero-shot", response_model=ZeroShotResponse, responses=JOB_ACCEPTED)
@reads
def classify_zero_shot(body: ZeroShotRequest, store: StoreDep, request: FastAPIRequest):
    """Nearest label vector wins. Without item_ids/vectors/text (the whole dataset or a split)
    it runs in the database and stores the predictions in `zero_shot` (join it with
    items_<dataset> ON id): that needs a key that may write, and `"wait": false` runs it as a job."""
    stored = body.item_ids is None and body.vectors is None and body.text is None
    if stored:
        require_write(request)
    if not body.wait:
        if not stored:
            raise BadInput(
                '"wait": false runs a whole dataset or split as a job; items, vectors and texts are answered at once',
                field="wait",
            )
        labelsets.for_dataset(store, body.labelset, body.dataset)  # unknown names: 404 now, not a failed job
        return submit(
            request,
            "zero-shot",
            body.dataset,
            {"labelset": body.labelset, "split": body.split, "scores": body.scores},
            lambda job_store, progress: _zero_shot_job(job_store, body, progress),
            hint="Run it again: it scores every row anew (the rows stored so far stay in zero_shot).",
        )
    if not stored:
        return _zero_shot(store, body)
    with runner(request).hold(body.dataset, "a zero-shot run"):
        return _zero_shot(store, body)


def _zero_shot(store: Store, body: ZeroShotRequest) -> dict:
    return zeroshot.classify(
        store,
        body.dataset,
        body.labelset,
        split=body.split,
        item_ids=body.item_ids,
        vectors=body.vectors,
        text=body.text,
        top=body.top,
        limit=body.limit,
        store_scores=body.scores,
        deadline=_budget(store, "zero-shot"),
    )


# Where kNN and the tourney over their budget should go instead: eval runs as a job.
SMALLER = (
    "classify fewer items per request, or evaluate a whole split as a background job (POST /eval/{method} "
    'with "wait": false).'
)


def _budget(store: Store, what: str, instead: str = AS_A_JOB) -> Deadline:
    return Deadline(store.settings.batch_time_budget, what, instead)


def _zero_shot_job(store: Store, body: ZeroShotRequest, progress) -> dict:
    """A whole dataset or split scored as a job: progress in rows."""
    total = (
        store.registry.count_rows(body.dataset, fresh=True)
        if body.split is None
        else int(
            store.scalar(
                Query.named(
                    "classify.count_split", db=store.database, items=items_table(body.dataset), split=body.split
                )
            )
        )
    )
    progress(0, total)
    run = zeroshot.run_stored(
        store,
        body.dataset,
        body.labelset,
        split=body.split,
        store_scores=body.scores,
        deadline=progress.deadline("zero-shot"),
        progress=lambda done: progress(done, total),
    )
    return {
        "stored": run["stored"],
        "table": "zero_shot",
        "run_at": run["run_at"].isoformat(),
        "seconds": round(run["seconds"], 3),
        "rows_per_second": round(run["rows_per_second"], 1),
        "message": f"stored {run['stored']:,} zero-shot rows in table zero_shot (run_at {run['run_at'].isoformat()})",
    }


# -- kNN -------------------------------------------------------------------------------------
class KnnRequest(Request):
    """Classify exactly one of a split, items or vectors."""

    model_config = ConfigDict(json_schema_extra=schema.exactly_one("split", "item_ids", "vectors"))

    dataset: str = Field(json_schema_extra=schema.NAME)
    train_split: str = Field("train", json_schema_extra=schema.SPLIT)
    k: int = Field(
        10, ge=1, description="Neighbours that vote (at most VECTRAIN_SEARCH_MAX_K)", json_schema_extra=schema.K
    )
    split: str | None = Field(None, json_schema_extra=schema.SPLIT)
    item_ids: list[str] | None = Field(None, json_schema_extra={**schema.ids(), "minItems": 1})
    vectors: list[list[float]] | None = Field(None, json_schema_extra=schema.vectors())
    weighting: Weighting = Weighting.majority
    exact: StrictBool = Field(True, description="true: exact batch plan; false: one HNSW query per item")


class KnnItem(BaseModel):
    id: str | None
    label: str
    confidence: float = Field(description="share of the (weighted) votes the label won")
    similarity: float = Field(description="mean cosine similarity of the k neighbours")


class KnnResponse(BaseModel):
    items: list[KnnItem]
    seconds: float
    plan: str
    train_rows: int
    queries_per_second: float


@router.post("/classify/knn", response_model=KnnResponse)
@reads
def classify_knn(body: KnnRequest, store: StoreDep):
    """The labeled rows of train_split vote on each query (rows with an empty label are ignored)."""
    return knn.classify(
        store,
        body.dataset,
        train_split=body.train_split,
        k=body.k,
        split=body.split,
        item_ids=body.item_ids,
        vectors=body.vectors,
        weighting=body.weighting.value,
        exact=body.exact,
        deadline=_budget(store, "kNN", SMALLER),
    )


# -- tourney ---------------------------------------------------------------------------------
class TourneyRequest(LabelSetQuery):
    dims: int = Field(64, ge=1, description="Dimensions compared per class pair (at most the dimension)")
    fit_split: str | None = Field(
        None, description="Choose pair dimensions from this split (default: all rows)", json_schema_extra=schema.SPLIT
    )
    seed: int = Field(0, ge=0, description="Seeds every item's bracket", json_schema_extra={"maximum": 2**32 - 1})
    min_score_quantile: float = Field(0.25, ge=0, lt=1)
    min_margin_quantile: float = Field(0.25, ge=0, lt=1)


class TourneyItem(BaseModel):
    id: str | None
    label: str
    score: float = Field(description="full-vector cosine similarity to the winning label")
    zero_shot_label: str


class TourneyResponse(BaseModel):
    items: list[TourneyItem]
    seconds: float
    dims: int
    confident_items: int
    fit_rows: int
    fallback_labels: list[str]


@router.post("/classify/tourney", response_model=TourneyResponse)
@reads
def classify_tourney(body: TourneyRequest, store: StoreDep):
    """Pairwise tourney over the label set, starting from zero-shot assignments."""
    return tourney.classify(
        store,
        body.dataset,
        body.labelset,
        split=body.split,
        item_ids=body.item_ids,
        vectors=body.vectors,
        text=body.text,
        dims=body.dims,
        fit_split=body.fit_split,
        seed=body.seed,
        min_score_quantile=body.min_score_quantile,
        min_margin_quantile=body.min_margin_quantile,
        deadline=_budget(store, "The tourney", SMALLER),
    )


# -- evaluation ------------------------------------------------------------------------------
class EvalRequest(Request):
    dataset: str = Field(json_schema_extra=schema.NAME)
    split: str | None = Field(None, description="Split to score (kNN default: test)", json_schema_extra=schema.SPLIT)
    labelset: str | None = Field(None, description="zero-shot and tourney", json_schema_extra=schema.NAME)
    train_split: str = Field("train", json_schema_extra=schema.SPLIT)
    k: int = Field(10, ge=1, json_schema_extra=schema.K)
    weighting: Weighting = Weighting.majority
    exact: StrictBool = True
    dims: int = Field(64, ge=1)
    seed: int = Field(0, ge=0, json_schema_extra={"maximum": 2**32 - 1})
    wait: StrictBool = Field(True, description="false: run as a job and answer 202 with it (the report is its result)")


@router.post("/eval/{method}", response_model=dict[str, Any], responses=JOB_ACCEPTED)
@reads
def evaluate(method: EvalMethod, body: EvalRequest, store: StoreDep, request: FastAPIRequest):
    """Accuracy, macro/weighted F1, per-class table, confusion matrix, queries/s and accuracy
    per similarity bin, against the items' own labels. `"wait": false` runs it as a job (the
    report is the job's result)."""
    writes = method == EvalMethod.zero_shot  # stores its predictions in zero_shot
    if writes:
        require_write(request)
    options = _options(method.value, body)
    if not body.wait:
        require_write(request)  # a job is a row in the jobs table
        store.registry.get(body.dataset, count=False)

        def work(job_store: Store, progress) -> dict:
            progress.note(f"evaluating {method.value}")
            return evaluation.evaluate(
                job_store,
                method.value,
                body.dataset,
                deadline=progress.deadline(f"Evaluating {method.value}"),
                **dict(options),
            )

        return submit(
            request, "eval", body.dataset, {"method": method.value, **options}, work, hint="Run the evaluation again."
        )
    if not writes:
        return evaluation.evaluate(
            store, method.value, body.dataset, deadline=_budget(store, f"Evaluating {method.value}"), **options
        )
    with runner(request).hold(body.dataset, "a zero-shot evaluation"):
        return evaluation.evaluate(
            store, method.value, body.dataset, deadline=_budget(store, f"Evaluating {method.value}"), **options
        )


def _options(method: str, body: EvalRequest) -> dict:
    if method == "knn":
        return {
            "split": body.split or "test",
            "train_split": body.train_split,
            "k": body.k,
            "weighting": body.weighting.value,
            "exact": body.exact,
        }
    options = {"labelset": body.labelset, "split": body.split}
    if method == "tourney":
        options.update(dims=body.dims, seed=body.seed)
    return options
