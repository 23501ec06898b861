"""The job runner: long work in the service process, with progress, cancellation and one job
at a time per dataset.

The runner lives in the service process (the embedded engine allows one process per path):
`job_workers` threads take jobs from a queue; each job runs on a client of its own
(`Store.apart`), so requests on the shared client (search, next batches) keep answering. The
work reports progress through `Progress`; the runner keeps it in memory (`GET /jobs/{id}` is
always current) and a flusher thread writes a running job's row (vectrain.jobs.records) only when its
progress changed, every `job_progress_seconds`, plus a heartbeat.

Cancelling is cooperative: `cancel()` sets a flag that the work's next progress report or check
turns into `JobCancelled`; what the work stored stays. A dataset is held by at most one job or
synchronous write (`hold`) at a time; a second one gets 409 (DatasetBusy) with what holds it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from vectrain.core.errors import Conflict, DatasetBusy, VectrainError
from vectrain.jobs.progress import Progress
from vectrain.jobs.records import (
    ACTIVE,
    CANCELLED,
    COLUMNS,
    DONE,
    FAILED,
    HEARTBEAT_SECONDS,
    KINDS,
    MAX_LIST,
    QUEUED,
    RATE_WINDOW_SECONDS,
    RUNNING,
    Job,
    JobCancelled,
    count_text,
    now,
    read_job,
    recover,
    stopped_message,
    stored_text,
)
from vectrain.storage.query import Query
from vectrain.storage.store import Store

log = logging.getLogger("vectrain.jobs")
DELETING = "a delete of the dataset"

Work = Callable[[Store, "Progress"], dict]


class JobRunner:
    def __init__(self, store: Store, workers: int | None = None, flush_seconds: float | None = None):
        self.store = store
        self.workers = workers or store.settings.job_workers
        self.flush_seconds = flush_seconds or store.settings.job_progress_seconds
        self._lock = threading.Lock()
        self._active: dict[str, Job] = {}  # queued and running jobs of this process
        self._holders: dict[str, str] = {}  # dataset -> what holds it (a job id, or a description)
        self._readers: dict[str, int] = {}  # dataset -> exports streaming it
        self._queue: queue.Queue[tuple[Job, Work] | None] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._version = 0

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> list[str]:
        """Mark what a dead process left unfinished as failed, then start the workers."""
        failed = recover(self.store)
        for n in range(self.workers):
            thread = threading.Thread(target=self._work_loop, name=f"job-worker-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)
        flusher = threading.Thread(target=self._flush_loop, name="job-progress", daemon=True)
        flusher.start()
        self._threads.append(flusher)
        return failed

    def stop(self, timeout: float = 10.0) -> None:
        """At shutdown: cancel every job, wait a little for them to stop, and mark the ones that
        did not (a statement that cannot be interrupted) failed with how to resume."""
        self._stop.set()
        with self._lock:
            for job in self._active.values():
                job.cancel_requested = True
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            left = list(self._active.values())
        for job in left:
            self._finish(job, FAILED, error=stopped_message(job))

    # -- submitting, reading, cancelling ---------------------------------------------------
    def submit(
        self,
        kind: str,
        dataset: str,
        params: dict,
        work: Work,
        hint: str = "",
        cleanup: Callable[[], None] | None = None,
    ) -> dict:
        """Queue `work` as a job on `dataset`; DatasetBusy (409) if a job or a write holds it.
        `cleanup` runs when the job ends, whatever the outcome (e.g. remove an uploaded file)."""
        if kind not in KINDS:
            raise ValueError(f"unknown job kind {kind!r}")
        job = Job(id=uuid.uuid4().hex[:16], kind=kind, dataset=dataset, params=params, hint=hint, cleanup=cleanup)
        with self._lock:
            self._check_free(dataset)
            if self._stop.is_set():
                raise Conflict("The service is stopping; submit the job again when it is back.")
            self._holders[dataset] = job.id
            self._active[job.id] = job
        try:
            self._write(job)
        except BaseException:
            with self._lock:
                self._active.pop(job.id, None)
                self._holders.pop(dataset, None)
            raise
        self._queue.put((job, work))
        return job.as_dict()

    def get(self, job_id: str) -> dict:
        with self._lock:
            job = self._active.get(job_id)
            if job is not None:
                return job.as_dict()
        return self._read(job_id).as_dict()

    def list(self, limit: int = 50, dataset: str = "") -> list[dict]:
        limit = max(1, min(int(limit), MAX_LIST))
        rows = self.store.rows(Query.named("jobs.list", dataset=dataset, limit=limit))
        with self._lock:
            live = {i: j.as_dict() for i, j in self._active.items()}
        return [live.get(r["id"]) or Job.from_row(r).as_dict() for r in rows]

    def cancel(self, job_id: str) -> dict:
        """Ask a job to stop: a queued job is cancelled at once, a running one at its next step."""
        with self._lock:
            job = self._active.get(job_id)
            if job is not None and job.state not in ACTIVE:  # ended, its row being written
                raise Conflict(
                    f"Job {job_id} already ended ({job.state}); there is nothing to cancel.",
                    job=job_id,
                    state=job.state,
                )
            if job is not None:
                job.cancel_requested = True
                if job.state == QUEUED:
                    job.message = "Cancelled before it started."
                else:
                    job.message = "Cancel requested: the job stops at its next step; what it stored stays."
        if job is None:
            stored = self._read(job_id)
            if stored.state in ACTIVE:
                raise Conflict(
                    f"Job {job_id} is {stored.state} in another service process; cancel it there.", job=job_id
                )
            raise Conflict(
                f"Job {job_id} already ended ({stored.state}); there is nothing to cancel.",
                job=job_id,
                state=stored.state,
            )
        if job.state == QUEUED:
            self._finish(job, CANCELLED, message=job.message)
        return self.get(job_id)

    def busy(self, dataset: str) -> str | None:
        """What holds a dataset (a job id or a description), or None."""
        with self._lock:
            return self._holders.get(dataset)

    @contextmanager
    def hold(self, dataset: str, what: str) -> Iterator[None]:
        """Hold a dataset for a synchronous write (apply, stored zero-shot, delete, an index build):
        409 while a job holds it, and jobs on it are refused meanwhile."""
        with self._lock:
            self._check_free(dataset)
            self._holders[dataset] = what
        try:
            yield
        finally:
            with self._lock:
                if self._holders.get(dataset) == what:
                    del self._holders[dataset]

    @contextmanager
    def deleting(self, dataset: str) -> Iterator[None]:
        """Hold a dataset to delete it: 409 while a job or a write holds it or an export streams it."""
        with self._lock:
            if self._readers.get(dataset):
                raise DatasetBusy(
                    f"Dataset {dataset!r} is being exported ({self._readers[dataset]} download(s) streaming); "
                    "delete it when they end.",
                    dataset=dataset,
                )
        with self.hold(dataset, DELETING):
            yield

    def reading(self, dataset: str) -> Callable[[], None]:
        """Register an export that streams the dataset (a delete waits for it); returns the release."""
        with self._lock:
            if self._holders.get(dataset) == DELETING:
                raise DatasetBusy(f"Dataset {dataset!r} is being deleted.", dataset=dataset)
            self._readers[dataset] = self._readers.get(dataset, 0) + 1
        released = threading.Event()

        def release() -> None:
            with self._lock:
                if not released.is_set():
                    released.set()
                    self._readers[dataset] -= 1
                    if not self._readers[dataset]:
                        del self._readers[dataset]

        return release

    def check_free(self, dataset: str) -> None:
        """DatasetBusy (409) if a job or a write holds the dataset now."""
        with self._lock:
            self._check_free(dataset)

    def _check_free(self, dataset: str) -> None:
        holder = self._holders.get(dataset)
        if holder is None:
            return
        job = self._active.get(holder)
        if job is None:
            raise DatasetBusy(
                f"Dataset {dataset!r} is busy: {holder} is running on it. Retry when it ends.", dataset=dataset
            )
        progress = f", {count_text(job.done)} of {count_text(job.total)} done" if job.state == RUNNING else ""
        raise DatasetBusy(
            f"Dataset {dataset!r} is busy: job {job.id} ({job.kind}, {job.state}{progress}) is working on it, and a "
            f"dataset takes one job or write at a time. Wait for it (GET /jobs/{job.id}) or cancel it "
            f"(DELETE /jobs/{job.id}); search keeps answering meanwhile.",
            dataset=dataset,
            job=job.id,
        )

    # -- running ---------------------------------------------------------------------------
    def _work_loop(self) -> None:
        while not self._stop.is_set():
            item = self._queue.get()
            if item is None:
                return
            job, work = item
            self._run(job, work)

    def _run(self, job: Job, work: Work) -> None:
        with self._lock:
            if job.state != QUEUED or job.id not in self._active:
                return  # cancelled while queued
            if job.cancel_requested:
                cancelled_early = True
            else:
                cancelled_early = False
                job.state, job.started = RUNNING, now()
                job.samples.append((time.monotonic(), 0))
        if cancelled_early:
            self._finish(job, CANCELLED, message="Cancelled before it started.")
            return
        self._write_quietly(job)
        try:
            with self.store.apart() as store:
                result = work(store, Progress(self, job))
        except JobCancelled:
            if self._stop.is_set():  # the service is stopping, nobody cancelled it
                self._finish(job, FAILED, error=stopped_message(job))
            else:
                done = f"{count_text(job.done)} of {count_text(job.total)}"
                kept = (
                    f": {job.stored:,} rows (the dataset holds {job.stored_before + job.stored:,})"
                    if job.stored_before is not None
                    else ""
                )
                message = f"Cancelled after {done}. What was stored stays{kept}. {job.hint}"
                self._finish(job, CANCELLED, message=message.strip())
        except VectrainError as exc:
            stored = f" {stored_text(job)}{job.hint}" if job.stored else ""
            self._finish(job, FAILED, error=f"{exc.message}{stored}".strip())
        except Exception as exc:  # a bug in the work: the job fails, the service stays up
            log.exception("job %s (%s on %s) failed", job.id, job.kind, job.dataset)
            first = (str(exc).strip().splitlines() or [""])[0][:300]
            self._finish(
                job,
                FAILED,
                error=f"Internal error ({type(exc).__name__}: {first}); the service log has "
                f"the details. {stored_text(job)}{job.hint}".strip(),
            )
        else:
            self._finish(job, DONE, result=result, message=str(result.pop("message", "")) if result else "")

    def _progress(self, job: Job, done: int, total: int | None) -> None:
        now = time.monotonic()
        with self._lock:
            job.done = int(done)
            if total is not None:
                job.total = int(total)
            job.samples.append((now, job.done))
            # rows/s over the last RATE_WINDOW_SECONDS (a resumed load skips stored rows at once)
            while len(job.samples) > 2 and now - job.samples[1][0] > RATE_WINDOW_SECONDS:
                job.samples.popleft()
            t0, d0 = job.samples[0]
            job.rate = (job.done - d0) / (now - t0) if now - t0 > 0.2 else job.rate
            job.eta = (job.total - job.done) / job.rate if job.total is not None and job.rate > 0 else None

    def _finish(self, job: Job, state: str, *, message: str = "", error: str = "", result: dict | None = None) -> None:
        with self._lock:
            if job.id not in self._active or job.state not in ACTIVE:
                return  # ended already
            cleanup, job.cleanup = job.cleanup, None
        if cleanup is not None:  # before the job shows as ended (e.g. its uploaded file is removed)
            try:
                cleanup()
            except Exception:
                log.exception("cleaning up after job %s failed", job.id)
        with self._lock:
            job.state, job.finished = state, now()
            job.message, job.error, job.result = message or job.message, error, result
            if state == DONE:
                job.eta = 0.0
                started = job.started or job.finished
                seconds = (job.finished - started).total_seconds()
                if job.done and seconds > 0:
                    job.rate = job.done / seconds
            else:
                job.eta = None
            if self._holders.get(job.dataset) == job.id:  # free as soon as the job shows as ended
                del self._holders[job.dataset]
        self._write_quietly(job)
        with self._lock:
            self._active.pop(job.id, None)

    # -- the jobs table --------------------------------------------------------------------
    def _flush_loop(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            with self._lock:
                running = [j for j in self._active.values() if j.state == RUNNING]
            now = time.monotonic()
            for job in running:
                if job.written != _shown(job) or now - job.written_at > HEARTBEAT_SECONDS:
                    self._write_quietly(job)

    def _write(self, job: Job) -> None:
        with self._lock:
            self._version = max(self._version + 1, time.time_ns())
            row, shown = job.row(self._version), _shown(job)
        self.store.insert("jobs", [row], column_names=COLUMNS)
        job.written, job.written_at = shown, time.monotonic()

    def _write_quietly(self, job: Job) -> None:
        try:
            self._write(job)
        except Exception:  # the job goes on; GET /jobs/{id} reads it from memory meanwhile
            log.exception("could not write job %s to the jobs table", job.id)

    def _read(self, job_id: str) -> Job:
        return read_job(self.store, job_id)


def _shown(job: Job) -> tuple:
    return job.state, job.done, job.total, job.message
