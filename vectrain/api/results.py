"""A session's results: apply a round to the whole dataset, page its predictions, the SQL that
publishes it, its weights."""

from __future__ import annotations

import io
from enum import Enum
from typing import Annotated

import numpy as np
from fastapi import Query
from fastapi import Request as FastAPIRequest
from fastapi.responses import Response
from pydantic import BaseModel, Field, StrictBool

from vectrain.api import schema
from vectrain.api.class_models import class_field
from vectrain.api.deps import StoreDep
from vectrain.api.jobs import JOB_ACCEPTED, runner, submit
from vectrain.api.models import Request, api_router
from vectrain.labeling import publish, rounds, state

router = api_router("sessions")


class ApplyResult(BaseModel):
    round: int
    items: int
    positives: int | None = class_field("items predicted positive (a binary session)")
    classes: dict[str, int] | None = class_field("a multi-class session: items predicted per class")
    seconds: float
    function: str
    view: str
    example: str


class Prediction(BaseModel):
    id: str
    score: float = Field(description="dot(w, v) + b; a multi-class session: the class's probability")
    margin: float = Field(
        description="score - threshold: positive when > 0 (what the published SQL function returns); a "
        "multi-class session: the top probability minus the runner-up's"
    )
    positive: bool | None = class_field("a binary session: the decision")
    label: str = Field(description="the item's own label in the dataset")
    class_: str | None = class_field("a multi-class session: the predicted class", alias="class")


class Predictions(BaseModel):
    round: int
    threshold: float | None = class_field("a binary session's threshold")
    total: int
    positives: int | None = class_field("a binary session: items predicted positive")
    classes: dict[str, int] | None = class_field("a multi-class session: items predicted per class")
    class_: str | None = class_field("the class paged (most confident first)", alias="class")
    order: str | None = class_field("a multi-class session's order: margin (smallest first) or score")
    offset: int
    limit: int
    items: list[Prediction]


class SessionSQL(BaseModel):
    function: str
    view: str
    round: int
    statements: list[str]
    example: str
    published: bool
    note: str | None = None


class Weights(BaseModel):
    session: str
    name: str
    dataset: str
    round: int
    mode: str
    weights: list[float] | list[list[float]] = Field(description="a vector; a multi-class session: a row per class")
    bias: float
    threshold: float
    classes: list[str] | None = class_field("a multi-class session: its classes, in the order of the rows")
    biases: list[float] | None = class_field("a multi-class session: one per class")
    active: list[bool] | None = class_field("a multi-class session: the classes the round can predict")


class WeightsFormat(str, Enum):
    json = "json"
    npy = "npy"


RoundParam = Annotated[
    int | None,
    Query(
        alias="round",
        ge=0,
        description="A round number (default: the latest)",
        json_schema_extra={"maximum": 2**32 - 1},
    ),
]


class ApplyRequest(Request):
    wait: StrictBool = Field(True, description="false: run as a job and answer 202 with it")


@router.post("/sessions/{session_id}/apply", response_model=ApplyResult, responses=JOB_ACCEPTED)
def apply(
    session_id: str,
    store: StoreDep,
    request: FastAPIRequest,
    round_no: RoundParam = None,
    body: ApplyRequest | None = None,
):
    """Score the whole dataset in one SQL statement and publish the classifier as SQL."""
    s = state.session_row(store, session_id)
    if body is not None and not body.wait:
        rounds.get_round(store, s["id"], round_no)  # an unknown round: 404 now, not a failed job
        return submit(
            request,
            "apply",
            s["dataset"],
            {"session": s["id"], "round": round_no},
            lambda job_store, progress: {
                **publish.apply(job_store, s["id"], round_no),
                "message": f"applied session {s['name']}",
            },
            hint=f"Apply again: POST /sessions/{s['id']}/apply.",
        )
    with runner(request).hold(s["dataset"], "an apply"):
        return publish.apply(store, session_id, round_no)


@router.get("/sessions/{session_id}/predictions", response_model=Predictions)
def predictions(
    session_id: str,
    store: StoreDep,
    offset: Annotated[int, Query(ge=0, json_schema_extra=schema.limit(maximum="max_offset"))] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    round_no: RoundParam = None,
    class_name: Annotated[str | None, Query(alias="class", max_length=256, description="a class's items")] = None,
    order: Annotated[str | None, Query(max_length=16, description="margin or score (multi-class)")] = None,
):
    """The applied round's scores, highest first (paged). A multi-class session's: one class's
    items most confident first (`class`), or every item by smallest margin (the default)."""
    return publish.predictions(store, session_id, offset, limit, round_no, class_name, order)


@router.get("/sessions/{session_id}/sql", response_model=SessionSQL)
def session_sql(session_id: str, store: StoreDep):
    """The exact SQL that publishes (or published) this classifier, and an example query."""
    return publish.session_sql(store, session_id)


@router.get(
    "/sessions/{session_id}/weights",
    response_model=Weights,
    responses={
        200: {
            "content": {"application/octet-stream": {}},
            "description": "JSON, or the weight vector as a .npy file with ?format=npy",
        }
    },
)
def weights(
    session_id: str,
    store: StoreDep,
    round_no: RoundParam = None,
    file_format: Annotated[WeightsFormat, Query(alias="format")] = WeightsFormat.json,
):
    """The weights, bias and threshold (JSON), or the weight vector as a .npy file. A multi-class
    session: the matrix (a row per class), the biases and the class names; .npy is the matrix."""
    out = publish.export_weights(store, session_id, round_no)
    if file_format == WeightsFormat.npy:
        buf = io.BytesIO()
        np.save(buf, np.asarray(out["weights"], dtype=np.float32))  # a multi-class session's: the matrix
        scalars = {} if out.get("classes") else {"X-Bias": repr(out["bias"]), "X-Threshold": repr(out["threshold"])}
        return Response(
            buf.getvalue(),
            media_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{out["name"]}_r{out["round"]}.npy"', **scalars},
        )
    return out
