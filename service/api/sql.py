"""Read-only SQL for analysts, with time and row limits."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from service.api.deps import get_store
from service.store import Store, readonly_query

router = APIRouter(tags=["sql"])


class SQLRequest(BaseModel):
    query: str = Field(description="One read-only statement: SELECT, SHOW, DESCRIBE, EXPLAIN",
                       examples=["SELECT label, count() FROM items_digits GROUP BY label ORDER BY label"])
    max_rows: int | None = Field(None, ge=1, description="At most this many rows (capped by the server)")


class SQLResponse(BaseModel):
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    truncated: bool = Field(description="True when the result had more rows than the limit")


@router.post("/sql", response_model=SQLResponse)
def run_sql(body: SQLRequest, store: Annotated[Store, Depends(get_store)]):
    """Run read-only SQL against vectrain's database. Writes get 403 and change nothing."""
    cap = store.settings.sql_max_result_rows
    return readonly_query(store, body.query, max_rows=min(body.max_rows or cap, cap))
