"""A time budget for synchronous batch work (kNN, zero-shot, tourney, eval) in one request.

An HTTP request should not hold a worker for minutes: work that passes its budget stops with a
clear error that points at the paths without one: a background job (`"wait": false`), or the CLI.
"""

from __future__ import annotations

import time

from vectrain.core.errors import TimeBudgetExceeded

# What a request over its budget should do instead (the endpoints that take "wait": false).
AS_A_JOB = (
    'send "wait": false to run it as a background job (the answer is 202 with the job; follow it at '
    "GET /jobs/{id}), or give it less to do per request."
)


class Deadline:
    def __init__(self, seconds: float | None, what: str, instead: str = AS_A_JOB):
        self.seconds = seconds
        self.what = what
        self.instead = instead
        self.started = time.monotonic()

    @classmethod
    def none(cls) -> Deadline:
        return cls(None, "")

    def remaining(self) -> float | None:
        if self.seconds is None:
            return None
        return self.seconds - (time.monotonic() - self.started)

    def check(self) -> None:
        left = self.remaining()
        if left is not None and left <= 0:
            raise self.error()

    def error(self) -> TimeBudgetExceeded:
        return TimeBudgetExceeded(
            f"{self.what} takes longer than {self.seconds:g} s, the time budget of a synchronous request "
            f"(VECTRAIN_BATCH_TIME_BUDGET): {self.instead}",
            budget_seconds=self.seconds,
        )

    def sql_settings(self) -> dict:
        """max_execution_time for a statement that should end with the budget."""
        left = self.remaining()
        if left is None:
            return {}
        if left <= 0:
            raise self.error()
        return {"max_execution_time": max(1, int(left + 0.999)), "timeout_overflow_mode": "throw"}
