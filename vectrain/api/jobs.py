"""Jobs: long work running in the service (loads, zero-shot over a dataset, apply, eval, index builds)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from vectrain.api.models import api_router
from vectrain.jobs.runner import JobRunner, Work

router = api_router("jobs")


class JobInfo(BaseModel):
    id: str
    kind: str = Field(description="load, zero-shot, apply, eval or index")
    dataset: str
    state: str = Field(description="queued, running, done, failed or cancelled")
    done: int = Field(description="rows (or items) done so far")
    total: int | None = Field(description="rows to do, when known")
    stored: int | None = Field(
        None, description="rows the job stored so far (loads; they stay if it fails or is cancelled)"
    )
    rows_per_second: float
    eta_seconds: float | None = Field(description="seconds left at the recent rate, when known")
    message: str = Field(description="what the job is doing, or how it ended")
    error: str | None = Field(description="why it failed, and how to resume")
    params: dict[str, Any] = Field(description="what was asked")
    result: dict[str, Any] | None = Field(
        description="the work's summary, when done (a load's loaded, skipped, failed, rows/s ...)"
    )
    created: str
    started: str | None
    finished: str | None
    cancel_requested: bool = False


def runner(request: Request) -> JobRunner:
    return request.app.state.jobs


def accepted(job: dict) -> JSONResponse:
    """202 with the job, and where to follow it."""
    return JSONResponse(status_code=202, content=job, headers={"Location": f"/jobs/{job['id']}"})


def submit(
    request: Request, kind: str, dataset: str, params: dict, work: Work, hint: str, cleanup=None
) -> JSONResponse:
    return accepted(runner(request).submit(kind, dataset, params, work, hint=hint, cleanup=cleanup))


JOB_ACCEPTED = {
    202: {"model": JobInfo, "description": 'With "wait": false: the job, queued (follow it at GET /jobs/{id})'}
}


@router.get("/jobs", response_model=list[JobInfo])
def list_jobs(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    dataset: Annotated[str, Query(max_length=63, description="Only this dataset's jobs")] = "",
):
    """Jobs, newest first."""
    return runner(request).list(limit, dataset)


@router.get("/jobs/{job_id}", response_model=JobInfo)
def get_job(job_id: str, request: Request):
    """A job's state and progress (current while it runs)."""
    return runner(request).get(job_id)


@router.delete("/jobs/{job_id}", response_model=JobInfo)
def cancel_job(job_id: str, request: Request):
    """Cancel a job: a queued job at once, a running one at its next step (its state turns
    `cancelled`; follow it with GET). What it stored stays; rerunning a load resumes it."""
    return runner(request).cancel(job_id)
