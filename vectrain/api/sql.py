"""Read-only SQL for analysts: checked by the engine's parser, limited by the engine
(vectrain.analyst.sql)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends
from fastapi.responses import Response
from pydantic import BaseModel, Field

from vectrain.analyst.sql import AnalystSQL
from vectrain.api import schema
from vectrain.api.deps import get_analyst
from vectrain.api.models import Request, api_router
from vectrain.api.security import reads

router = api_router("sql")


class SQLRequest(Request):
    query: str = Field(
        description="One read-only statement: SELECT, WITH ... SELECT, SHOW, DESCRIBE, EXPLAIN",
        examples=["SELECT label, count() FROM items_digits GROUP BY label ORDER BY label"],
        json_schema_extra=schema.text("sql_max_query_length"),
    )
    max_rows: int | None = Field(None, ge=1, description="At most this many rows (capped by the server)")


class SQLResponse(BaseModel):
    columns: list[str]
    types: list[str]
    rows: list[list[Any]] = Field(
        description="Text as JSON strings; a String that is not valid UTF-8 is binary and comes back as "
        '{"base64": "<its bytes>"}; a Map with binary keys as a list of [key, value] pairs; Float32 as the '
        "shortest decimal that reads back the same; NaN and infinities as null"
    )
    truncated: bool = Field(
        description="True when the result had more rows than the row limit, or more bytes than "
        "VECTRAIN_SQL_MAX_RESULT_BYTES: the rows before the limit are returned"
    )


@router.post("/sql", response_model=SQLResponse)
@reads
def run_sql(body: SQLRequest, analyst: Annotated[AnalystSQL, Depends(get_analyst)]):
    """Run one read-only statement against vectrain's database. Anything else gets 403 and
    nothing runs; over the time limit 422, over the memory or rows-read limit 413; 429 when
    every SQL slot is busy. Rows past the row or byte limit are cut (`truncated`)."""
    # The body is built as the rows are read, within its limits (vectrain.analyst.results).
    return Response(analyst.run_json(body.query, max_rows=body.max_rows), media_type="application/json")
