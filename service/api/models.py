"""What every router shares: the request base model, the error model, and the errors every
operation declares, so the OpenAPI schema says what the service really answers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Request(BaseModel):
    """Request bodies: unknown fields are refused (a typo is not silently ignored), and NaN or
    Infinity are not numbers."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ErrorResponse(BaseModel):
    detail: str = Field(description="What went wrong, for a person")
    code: str = Field(description="Stable machine-readable error code, e.g. dataset_not_found")

    model_config = ConfigDict(extra="allow", json_schema_extra={
        "description": "Fields the error is about (dataset, session, item, ...) may follow."})


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description}


# Declared on every operation: any of them can answer these.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("Bad input: the message says what to change"),
    401: _error("An API key is needed (Authorization: Bearer <key>)"),
    403: _error("The key may not do this, or the statement is not read-only"),
    404: _error("Not found: dataset, session, item, round or label set"),
    409: _error("Conflict: the name is taken, or the dataset is busy"),
    413: _error("Too large: the body, upload, image or list is over its limit"),
    422: _error("The request does not match the schema, or the work is over its time budget"),
    429: _error("Too busy: retry shortly"),
    503: _error("The service cannot do this now (a model or the database is unavailable)"),
}
