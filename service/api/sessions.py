"""Classifier training sessions (next batch, labels, train, apply).

Endpoints are sync functions: FastAPI runs them in its threadpool, and the one client of the
store serializes their SQL, so concurrent label writes each land as their own INSERT.
"""

from __future__ import annotations

import io
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field, model_validator

from service import sessions as svc
from service.api.deps import get_store
from service.store import Store

router = APIRouter(tags=["sessions"])
StoreDep = Annotated[Store, Depends(get_store)]


class CreateSession(BaseModel):
    dataset: str
    name: str = Field(description="lowercase letters, digits, _; the classifier is published as clf_<name>")
    prompt: str | None = Field(None, description="start from this text's embedding (needs a text encoder)")
    vector: list[float] | None = Field(None, description="start from this vector")
    positive_ids: list[str] | None = Field(None, description="start from the normalized mean of these items")

    @model_validator(mode="after")
    def one_start(self):
        if sum(x is not None for x in (self.prompt, self.vector, self.positive_ids)) != 1:
            raise ValueError('give exactly one of "prompt", "vector" or "positive_ids"')
        return self


class NextRequest(BaseModel):
    k: int = Field(10, ge=1, le=1000)
    strategy: Literal["mixed", "top", "boundary", "random"] = "mixed"


class Label(BaseModel):
    item_id: str = Field(min_length=1)
    # The range is checked by the service (one message for API and CLI), not here.
    score: float = Field(description="in [-1, 1]: +1 positive, -1 negative, graded in between")


class LabelBatch(BaseModel):
    labels: list[Label] = Field(min_length=1)


class TrainRequest(BaseModel):
    mode: Literal["auto", "seed"] = "auto"


@router.post("/sessions", status_code=201)
def create_session(body: CreateSession, store: StoreDep) -> dict:
    """Start a classifier from a prompt, a vector or example items (round 0)."""
    return svc.create_session(store, body.dataset, body.name, prompt=body.prompt, vector=body.vector,
                              positive_ids=body.positive_ids)


@router.get("/sessions")
def list_sessions(store: StoreDep) -> list[dict]:
    return svc.list_sessions(store)


@router.get("/sessions/{session_id}")
def get_session(session_id: str, store: StoreDep) -> dict:
    """The session, its rounds (weights summary, threshold, metrics) and label counts."""
    return svc.get_session(store, session_id)


@router.post("/sessions/{session_id}/next")
def next_batch(session_id: str, store: StoreDep, body: NextRequest | None = None) -> dict:
    """k items not yet labeled in this session. `mixed` (default) returns likely positives and
    the items nearest the decision threshold; `top` is the seeds' query; `random` a baseline."""
    body = body or NextRequest()
    return svc.next_batch(store, session_id, body.k, body.strategy)


@router.post("/sessions/{session_id}/labels")
def add_labels(session_id: str, body: LabelBatch, store: StoreDep) -> dict:
    """Store labels, all or none; re-labeling an item replaces its label."""
    return svc.add_labels(store, session_id, [label.model_dump() for label in body.labels])


@router.get("/sessions/{session_id}/labels")
def get_labels(session_id: str, store: StoreDep) -> dict:
    return {"labels": svc.get_labels(store, session_id)}


@router.post("/sessions/{session_id}/train")
def train(session_id: str, store: StoreDep, body: TrainRequest | None = None) -> dict:
    """Train a new round on all labels: `auto` (default) or `seed` (the seeds' exact update)."""
    return svc.train_round(store, session_id, (body or TrainRequest()).mode)


@router.post("/sessions/{session_id}/apply")
def apply(session_id: str, store: StoreDep, round: int | None = None) -> dict:
    """Score the whole dataset in one SQL statement and publish the classifier as SQL."""
    return svc.apply(store, session_id, round)


@router.get("/sessions/{session_id}/predictions")
def predictions(session_id: str, store: StoreDep, offset: Annotated[int, Query(ge=0)] = 0,
                limit: Annotated[int, Query(ge=1, le=10_000)] = 100, round: int | None = None) -> dict:
    return svc.predictions(store, session_id, offset, limit, round)


@router.get("/sessions/{session_id}/sql")
def session_sql(session_id: str, store: StoreDep) -> dict:
    """The exact SQL that publishes (or published) this classifier, and an example query."""
    return svc.session_sql(store, session_id)


@router.get("/sessions/{session_id}/weights")
def weights(session_id: str, store: StoreDep, round: int | None = None,
            format: Literal["json", "npy"] = "json"):
    """The weights, bias and threshold (JSON), or the weight vector as a .npy file."""
    out = svc.export_weights(store, session_id, round)
    if format == "npy":
        buf = io.BytesIO()
        np.save(buf, np.asarray(out["weights"], dtype=np.float32))
        return Response(buf.getvalue(), media_type="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{out["name"]}_r{out["round"]}.npy"',
                                 "X-Bias": repr(out["bias"]), "X-Threshold": repr(out["threshold"])})
    return out
