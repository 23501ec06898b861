"""Read-only SQL for analysts, with time and row limits."""

from __future__ import annotations

import threading
from typing import Annotated, Any

from clickhouse_connect.driver.exceptions import ClickHouseError
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from service.api.deps import get_store
from service.api.models import ERRORS, Request
from service.api.security import reads
from service.errors import BadInput, Forbidden, TimeBudgetExceeded, engine_code
from service.store import Store

router = APIRouter(tags=["sql"], responses=ERRORS)
_lock = threading.Lock()


class SQLRequest(Request):
    query: str = Field(description="One read-only statement: SELECT, SHOW, DESCRIBE, EXPLAIN",
                       examples=["SELECT label, count() FROM items_digits GROUP BY label ORDER BY label"])
    max_rows: int | None = Field(None, ge=1, description="At most this many rows (capped by the server)")


class SQLResponse(BaseModel):
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    truncated: bool = Field(description="True when the result had more rows than the limit")


def readonly_query(store: Store, sql: str, max_rows: int | None = None, max_seconds: float | None = None) -> dict:
    """Run an analyst's SQL on its own handle with readonly=1 and limits (sent last)."""
    max_rows = max_rows or store.settings.sql_max_result_rows
    limits = {"max_execution_time": max_seconds or store.settings.sql_max_execution_time,
              "max_result_rows": max_rows, "result_overflow_mode": "break", "readonly": 1}
    if not sql or not sql.strip():
        raise BadInput("The query is empty")
    with _lock:
        client = store.new_client()
        try:
            result = client.query(sql, settings=limits)
        except ClickHouseError as exc:
            code = engine_code(exc)
            if code == 164:
                raise Forbidden("This endpoint is read-only: SELECT, SHOW, DESCRIBE and EXPLAIN only. "
                                "Nothing was changed.") from None
            if code == 159:
                raise TimeBudgetExceeded(f"The query ran longer than {limits['max_execution_time']} s and was "
                                         "stopped.") from None
            raise BadInput(f"ClickHouse rejected the query: {str(exc).split('(version')[0].strip()}") from None
        finally:
            client.close()
    rows = result.result_rows
    return {"columns": list(result.column_names), "types": [t.name for t in result.column_types],
            "rows": [list(r) for r in rows[:max_rows]], "truncated": len(rows) > max_rows}


@router.post("/sql", response_model=SQLResponse)
@reads
def run_sql(body: SQLRequest, store: Annotated[Store, Depends(get_store)]):
    """Run read-only SQL against vectrain's database. Writes get 403 and change nothing."""
    cap = store.settings.sql_max_result_rows
    return readonly_query(store, body.query, max_rows=min(body.max_rows or cap, cap))
