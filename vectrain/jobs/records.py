"""Jobs: long work the service runs in the background (loads, zero-shot over a dataset, apply,
eval, index builds), as rows of table `jobs` (sql/schema/008_jobs.sql).

A job is a row so it survives the process: at start-up, every job a dead process left queued
or running is marked failed (`recover`), with a message that says how to resume (loads skip
what is stored, so rerunning one adds only what is missing). Every change inserts a newer
version of the row. The runner that executes jobs is vectrain.jobs.runner.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vectrain.core.errors import JobNotFound, VectrainError
from vectrain.storage.query import Query
from vectrain.storage.store import Store

log = logging.getLogger("vectrain.jobs")

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
ACTIVE = (QUEUED, RUNNING)
KINDS = ("load", "zero-shot", "apply", "eval", "index", "audit")
HEARTBEAT_SECONDS = 30.0  # a running job's row is written at least this often
# On a ClickHouse server other service processes may run jobs: at start-up only jobs whose row
# has not been written for this long are taken for dead. On chDB this process is the only one.
SERVER_STALE_SECONDS = 4 * HEARTBEAT_SECONDS
RATE_WINDOW_SECONDS = 10.0
MAX_LIST = 500

COLUMNS = [
    "id",
    "kind",
    "dataset",
    "state",
    "done",
    "total",
    "rate",
    "eta",
    "message",
    "error",
    "params",
    "result",
    "hint",
    "created",
    "started",
    "finished",
    "updated",
    "version",
    "stored",
    "stored_before",
]


class JobCancelled(Exception):
    """Raised inside a job's work at its next progress report or check after a cancel."""


def now() -> dt.datetime:
    return dt.datetime.now()


@dataclass
class Job:
    id: str
    kind: str
    dataset: str
    params: dict
    hint: str = ""  # how to resume after a failure or a cancel
    state: str = QUEUED
    done: int = 0
    total: int | None = None
    rate: float = 0.0
    eta: float | None = None
    message: str = ""
    error: str = ""
    result: dict | None = None
    stored: int = 0  # rows the work stored (a load's inserted rows)
    stored_before: int | None = None  # rows of the dataset when the work began to store
    created: dt.datetime = field(default_factory=now)
    started: dt.datetime | None = None
    finished: dt.datetime | None = None
    # in memory only
    cancel_requested: bool = False
    samples: deque = field(default_factory=lambda: deque(maxlen=64))  # (monotonic, done)
    written: tuple = ()  # (state, done, total, message) of the last row written
    written_at: float = 0.0
    cleanup: Callable[[], None] | None = None  # runs once when the job ends

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "dataset": self.dataset,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "rows_per_second": round(self.rate, 1),
            "eta_seconds": None if self.eta is None else round(self.eta, 1),
            "stored": self.stored if self.stored_before is not None else None,
            "message": self.message,
            "error": self.error or None,
            "params": self.params,
            "result": self.result,
            "created": _iso(self.created),
            "started": _iso(self.started),
            "finished": _iso(self.finished),
            "cancel_requested": self.cancel_requested,
        }

    def row(self, version: int) -> list[Any]:
        return [
            self.id,
            self.kind,
            self.dataset,
            self.state,
            int(self.done),
            self.total,
            float(self.rate),
            self.eta,
            self.message,
            self.error,
            json.dumps(self.params),
            json.dumps(self.result) if self.result else "",
            self.hint,
            self.created,
            self.started,
            self.finished,
            now(),
            version,
            int(self.stored),
            self.stored_before,
        ]

    @classmethod
    def from_row(cls, r: dict) -> Job:
        return cls(
            id=r["id"],
            kind=r["kind"],
            dataset=r["dataset"],
            params=_json(r["params"], {}),
            hint=r["hint"],
            state=r["state"],
            done=int(r["done"]),
            total=None if r["total"] is None else int(r["total"]),
            rate=float(r["rate"]),
            eta=None if r["eta"] is None else float(r["eta"]),
            message=r["message"],
            error=r["error"],
            result=_json(r["result"], None),
            created=r["created"],
            started=r["started"],
            finished=r["finished"],
            stored=int(r.get("stored") or 0),
            stored_before=None if r.get("stored_before") is None else int(r["stored_before"]),
        )


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="milliseconds") if value is not None else None


def _json(text: str, default):
    try:
        return json.loads(text) if text else default
    except ValueError:
        return default


def count_text(n: int | None) -> str:
    return "?" if n is None else f"{n:,}"


def stored_text(job: Job) -> str:
    """What the job stored, for its message ('' for work that stores no rows)."""
    if job.stored_before is None:
        return ""
    return f"It stored {job.stored:,} rows, which stay (the dataset holds {job.stored_before + job.stored:,}). "


def stopped_message(job: Job, recorded: bool = False) -> str:
    """Why a job failed when the service stopped under it; `recorded`: its progress is the last one
    written to the table (throttled), so the work may have gone further (its rows stored are
    counted in the dataset, see recover)."""
    done = f"{count_text(job.done)} of {count_text(job.total)}"
    done = f"last recorded progress {done}" if recorded else f"{done} done"
    return f"The service stopped while this job was {job.state} ({done}). {stored_text(job)}{job.hint}".strip()


def _count_stored(store: Store, job: Job) -> None:
    """The rows a dead job actually stored: the dataset's rows now, less those it began with."""
    if job.stored_before is None:
        return
    try:
        now_rows = store.registry.count_rows(job.dataset, fresh=True)
    except VectrainError:  # the dataset is gone: keep what was recorded
        return
    job.stored = max(job.stored, now_rows - job.stored_before)


def recover(store: Store) -> list[str]:
    """Mark jobs a dead process left queued or running as failed, with how to resume. On chDB
    the process that opened the path is the only one, so every such job is dead; on a server,
    only those whose row has not been written for SERVER_STALE_SECONDS."""
    stale_ms = 0 if store.target.kind == "chdb" else int(SERVER_STALE_SECONDS * 1000)
    failed = []
    for r in store.rows(Query.named("jobs.unfinished", stale_ms=stale_ms)):
        job = Job.from_row(r)
        _count_stored(store, job)
        job.error = stopped_message(job, recorded=True)
        job.state, job.finished, job.eta = FAILED, now(), None
        store.insert("jobs", [job.row(time.time_ns())], column_names=COLUMNS)
        failed.append(job.id)
    if failed:
        log.warning("marked %d unfinished job(s) failed: %s", len(failed), ", ".join(failed))
    return failed


def list_jobs(store: Store, limit: int = 50, dataset: str = "") -> list[dict]:
    """The jobs table, newest first (the CLI without a running service)."""
    limit = max(1, min(int(limit), MAX_LIST))
    return [Job.from_row(r).as_dict() for r in store.rows(Query.named("jobs.list", dataset=dataset, limit=limit))]


def read_job(store: Store, job_id: str) -> Job:
    if not isinstance(job_id, str) or not 1 <= len(job_id) <= 64:
        raise JobNotFound(f"No job {str(job_id)[:64]!r}.", job=str(job_id)[:64])
    rows = store.rows(Query.named("jobs.get", id=job_id))
    if not rows:
        raise JobNotFound(f"No job {job_id!r}. List jobs with GET /jobs or `vectrain jobs`.", job=job_id)
    return Job.from_row(rows[0])
