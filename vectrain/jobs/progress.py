"""What a job's work holds: its progress, its cancel, and a Deadline that turns a cancel into
JobCancelled inside work written for time budgets (vectrain.jobs.runner runs the work)."""

from __future__ import annotations

from typing import Any

from vectrain.core.budget import Deadline
from vectrain.jobs.records import Job, JobCancelled


class Progress:
    """What a job's work holds: report progress, check for a cancel, and a Deadline that
    turns a cancel into JobCancelled inside work written for time budgets (eval, kNN)."""

    def __init__(self, runner: Any, job: Job):
        """`runner`: the JobRunner that runs the job (it keeps the progress)."""
        self._runner, self.job = runner, job

    def __call__(self, done: int, total: int | None = None) -> None:
        self._runner._progress(self.job, done, total)
        self.check()

    def storing(self, rows_before: int) -> None:
        """The work begins to store rows into a dataset that holds `rows_before`: written at once,
        so a restart after a kill can count what the job stored (vectrain.jobs.records.recover)."""
        with self._runner._lock:
            self.job.stored_before = int(rows_before)
        self._runner._write_quietly(self.job)

    def stored(self, rows: int) -> None:
        """Rows the work has stored so far."""
        with self._runner._lock:
            self.job.stored = int(rows)

    def note(self, message: str) -> None:
        """What the job is doing now (shown with its progress)."""
        with self._runner._lock:
            self.job.message = message

    def check(self) -> None:
        if self.job.cancel_requested:
            raise JobCancelled()

    def deadline(self, what: str) -> Deadline:
        return _CancelDeadline(self, what)


class _CancelDeadline(Deadline):
    """No time budget (a job may run as long as it needs), but a cancel stops it at the next check."""

    def __init__(self, progress: Progress, what: str):
        super().__init__(None, what)
        self._progress = progress

    def check(self) -> None:
        self._progress.check()

    def sql_settings(self) -> dict:
        self._progress.check()
        return {}
