"""Whole-dataset audits: suspected label errors and near-duplicate groups.

POST runs an audit (within the synchronous time budget, or as a job with `"wait": false`) and
stores its results in tables analysts can join on id (label_issues, duplicate_groups); GET reads
the latest run back.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from fastapi import Request as FastAPIRequest
from pydantic import BaseModel, Field, StrictBool

from vectrain.api import schema
from vectrain.api.deps import StoreDep
from vectrain.api.jobs import JOB_ACCEPTED, submit
from vectrain.api.models import DatasetName, Request, api_router
from vectrain.quality import dataset_audit
from vectrain.storage.store import Store

router = api_router("audit")


class LabelAuditRequest(Request):
    limit: int = Field(
        100,
        ge=1,
        description="Suspects returned (all are stored), at most VECTRAIN_MAX_IDS",
        json_schema_extra=schema.limit(maximum="max_ids"),
    )
    split: str | None = Field(
        None,
        description="Audit this split's labeled items, with neighbours from the same "
        "split (default: the whole dataset's)",
    )
    k: int = Field(
        10, ge=1, description="Neighbours that vote (at most VECTRAIN_SEARCH_MAX_K)", json_schema_extra=schema.K
    )
    min_agreement: float = Field(0.5, ge=0, le=1, description="Vote share the suggested label needs to flag an item")
    wait: StrictBool = Field(True, description="false: run as a job and answer 202 with it (large datasets)")


class DuplicateAuditRequest(Request):
    threshold: float = Field(
        0.98, gt=0, le=1, description="Cosine similarity at or above which two items are near-duplicates"
    )
    split: str | None = Field(None, description="Only this split (default: the whole dataset)")
    limit: int = Field(
        100,
        ge=1,
        description="Groups returned, largest first (all are stored)",
        json_schema_extra=schema.limit(maximum="max_ids"),
    )
    wait: StrictBool = Field(True, description="false: run as a job and answer 202 with it (large datasets)")


class LabelIssue(BaseModel):
    id: str
    label: str = Field(description="the stored label")
    suggested: str = Field(description="the label the neighbourhood votes for")
    score: float = Field(description="vote share of `suggested` minus that of `label`: higher is more suspect")
    agreement: float = Field(description="vote share of `suggested`")
    neighbors: list[str] = Field(description="the voters, nearest first")


class LabelAudit(BaseModel):
    items: list[LabelIssue] = Field(description="most suspect first")
    checked: int = Field(description="labeled items examined")
    flagged: int = Field(description="suspects found (all stored in table label_issues)")
    truncated: bool
    split: str | None
    k: int | None = None
    min_agreement: float | None = None
    run_at: str = Field(description="label_issues.run_at of this run")
    seconds: float
    table: str


class DuplicateAudit(BaseModel):
    groups: list[list[str]] = Field(description="groups of ids, largest first")
    checked: int = Field(description="items compared, every pair exactly")
    items: int = Field(description="items in some group")
    pairs: int | None = Field(None, description="pairs at or above the threshold")
    count: int | None = Field(None, description="groups found (all stored in table duplicate_groups)")
    truncated: bool
    split: str | None
    threshold: float
    run_at: str = Field(description="duplicate_groups.run_at of this run")
    seconds: float
    table: str


def _budget(store: Store, what: str, command: str) -> dataset_audit.Budget:
    return dataset_audit.Budget(store.settings.batch_time_budget, what, command)


def _as_job(request: FastAPIRequest, store: Store, name: str, what: str, params: dict, run) -> dict:
    """The audit as a job (202): no time budget, cancellable, its answer the job's result."""
    store.registry.get(name, count=False)  # DatasetNotFound now, not in the job

    def work(job_store: Store, progress) -> dict:
        progress.note(what)
        return run(job_store, progress.deadline(what))

    return submit(request, "audit", name, params, work, hint="Run the audit again.")


@router.post("/datasets/{name}/audit/labels", response_model=LabelAudit, responses=JOB_ACCEPTED)
def audit_labels(name: DatasetName, store: StoreDep, request: FastAPIRequest, body: LabelAuditRequest | None = None):
    """Labeled items whose stored label disagrees with a confident neighbourhood (exact kNN among
    the labeled items), most suspect first. Every suspect is stored in `label_issues`.
    `"wait": false` runs it as a job."""
    body = body or LabelAuditRequest()

    def run(s: Store, deadline):
        return dataset_audit.audit_labels(
            s, name, split=body.split, k=body.k, limit=body.limit, min_agreement=body.min_agreement, deadline=deadline
        )

    if not body.wait:
        return _as_job(request, store, name, "auditing labels", body.model_dump(exclude={"wait"}), run)
    return run(store, _budget(store, "This label audit", f"vectrain audit labels {name}"))


@router.post("/datasets/{name}/audit/duplicates", response_model=DuplicateAudit, responses=JOB_ACCEPTED)
def audit_duplicates(
    name: DatasetName, store: StoreDep, request: FastAPIRequest, body: DuplicateAuditRequest | None = None
):
    """Groups of items at least `threshold` similar (every pair compared exactly; a group is
    items linked by a chain of such pairs). Every group is stored in `duplicate_groups`.
    `"wait": false` runs it as a job."""
    body = body or DuplicateAuditRequest()

    def run(s: Store, deadline):
        return dataset_audit.find_duplicates(
            s, name, threshold=body.threshold, split=body.split, limit=body.limit, deadline=deadline
        )

    if not body.wait:
        return _as_job(request, store, name, "finding near-duplicates", body.model_dump(exclude={"wait"}), run)
    return run(store, _budget(store, "This duplicate search", f"vectrain audit duplicates {name}"))


Limit = Annotated[
    int, Query(ge=1, description="At most this many items or groups", json_schema_extra=schema.limit(maximum="max_ids"))
]


@router.get("/datasets/{name}/audit/labels", response_model=LabelAudit)
def latest_label_audit(name: DatasetName, store: StoreDep, limit: Limit = 100):
    """The latest label audit's suspects, most suspect first (404 before the first run)."""
    return dataset_audit.latest(store, name, dataset_audit.LABELS, limit)


@router.get("/datasets/{name}/audit/duplicates", response_model=DuplicateAudit)
def latest_duplicate_audit(name: DatasetName, store: StoreDep, limit: Limit = 100):
    """The latest duplicate search's groups, largest first (404 before the first run)."""
    return dataset_audit.latest(store, name, dataset_audit.DUPLICATES, limit)
