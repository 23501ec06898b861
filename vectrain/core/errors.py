"""Errors a user can act on.

Every error has an HTTP status, a stable machine-readable `code`, a message for a person, and
the fields it is about (dataset, session, item, ...). The API answers each one as JSON
`{"detail": message, "code": code, **fields}`; the CLI prints the message on one line.
"""

from __future__ import annotations

from typing import Any


class VectrainError(Exception):
    status_code = 400
    code = "bad_input"

    def __init__(self, message: str, **fields: Any):
        super().__init__(message)
        self.message = message
        self.fields = {k: v for k, v in fields.items() if v is not None}

    def as_json(self) -> dict[str, Any]:
        return {"detail": self.message, "code": self.code, **self.fields}


class BadInput(VectrainError):
    status_code = 400
    code = "bad_input"


class Unauthorized(VectrainError):
    status_code = 401
    code = "unauthorized"


class Forbidden(VectrainError):
    status_code = 403
    code = "forbidden"


class NotFound(VectrainError):
    status_code = 404
    code = "not_found"


class DatasetNotFound(NotFound):
    code = "dataset_not_found"


class ItemNotFound(NotFound):
    code = "item_not_found"


class NoImage(NotFound):
    """The item exists but has no stored thumbnail and no http(s) url to redirect to."""

    code = "no_image"


class SessionNotFound(NotFound):
    code = "session_not_found"


class RoundNotFound(NotFound):
    code = "round_not_found"


class NothingToUndo(NotFound):
    """Every label change of a session has been taken back (or none was made)."""

    code = "nothing_to_undo"


class LabelSetNotFound(NotFound):
    code = "labelset_not_found"


class JobNotFound(NotFound):
    code = "job_not_found"


class Conflict(VectrainError):
    status_code = 409
    code = "conflict"


class DatasetBusy(Conflict):
    """A job (or a synchronous write) is already changing this dataset."""

    code = "dataset_busy"


class TooLarge(VectrainError):
    """A request body, upload or image over its limit; refused before the work starts."""

    status_code = 413
    code = "too_large"


class TooBusy(VectrainError):
    """Every slot for this kind of work is taken; retry shortly."""

    status_code = 429
    code = "too_busy"


class TimeBudgetExceeded(VectrainError):
    """Synchronous work that would run longer than the request's time budget."""

    status_code = 422
    code = "time_budget_exceeded"


class ServiceUnavailable(VectrainError):
    """The service is misconfigured or a dependency is missing: not the caller's fault."""

    status_code = 503
    code = "service_unavailable"


class ModelUnavailable(ServiceUnavailable):
    """The encoder's weights cannot be loaded (offline, wrong path, not a CLIP directory)."""

    code = "model_unavailable"


class EngineLocked(ServiceUnavailable):
    """The embedded database path is held by another process (chDB allows one per path)."""

    code = "engine_locked"


class EngineError(VectrainError):
    """The database refused or failed a statement the service built (see from_engine)."""

    status_code = 500
    code = "engine_error"


# ClickHouse error codes (ErrorCodes.cpp) the service maps to a user-facing class.
ENGINE_CODES: dict[int, tuple[type[VectrainError], str]] = {
    159: (TimeBudgetExceeded, "The query ran longer than its time limit and was stopped."),  # TIMEOUT_EXCEEDED
    241: (TooLarge, "The query needed more memory than its limit allows."),  # MEMORY_LIMIT_EXCEEDED
    158: (TooLarge, "The query read more rows than its limit allows."),  # TOO_MANY_ROWS
    396: (TooLarge, "The query returned more rows than its limit allows."),  # TOO_MANY_ROWS_OR_BYTES
    164: (Forbidden, "This is read-only: the statement was refused and nothing was changed."),  # READONLY
    202: (TooBusy, "The database is running too many queries; retry shortly."),  # TOO_MANY_SIMULTANEOUS_QUERIES
    394: (Conflict, "The query was cancelled."),  # QUERY_WAS_CANCELLED
}


def engine_code(exc: BaseException) -> int | None:
    """The numeric ClickHouse error code clickhouse-connect parsed for `exc`, if any."""
    code = getattr(exc, "code", None)
    return int(code) if isinstance(code, int) else None


def from_engine(exc: BaseException, what: str = "the statement") -> VectrainError:
    """A typed error for an engine exception, chosen by its structured error code. Unknown codes
    become EngineError (500): the service built a statement the engine could not run."""
    code = engine_code(exc)
    if code in ENGINE_CODES:
        cls, message = ENGINE_CODES[code]
        return cls(message, engine_code=code)
    return EngineError(f"The database failed {what} (ClickHouse error {code or 'unknown'}).", engine_code=code)
