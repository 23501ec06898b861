"""Exports of a dataset and of a session, streamed (read with pandas, DuckDB, a spreadsheet ...)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from fastapi import Query
from fastapi.responses import StreamingResponse

from vectrain.api.deps import StoreDep
from vectrain.api.models import api_router
from vectrain.jobs import exports

router = api_router("exports")


class DatasetFormat(str, Enum):
    parquet = "parquet"
    csv = "csv"


class SessionFormat(str, Enum):
    csv = "csv"
    jsonl = "jsonl"


def _stream(export: exports.Export) -> StreamingResponse:
    return StreamingResponse(
        export.chunks,
        media_type=export.media_type,
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"', "Cache-Control": "no-store"},
    )


@router.get(
    "/datasets/{name}/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/vnd.apache.parquet": {}, "text/csv": {}},
            "description": "The rows: id, url, label, split, meta (JSON text) and, with ?vectors=true, vector",
        }
    },
)
def export_dataset(
    name: str,
    store: StoreDep,
    file_format: Annotated[DatasetFormat, Query(alias="format")] = DatasetFormat.parquet,
    vectors: Annotated[bool, Query(description="Include each row's vector")] = False,
):
    """Every row of a dataset in id order, streamed page by page (memory stays flat at 1M rows).
    `pandas.read_parquet(url)` or `pandas.read_csv(url)` read it."""
    return _stream(exports.dataset(store, name, file_format.value, vectors))


@router.get(
    "/sessions/{session_id}/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/csv": {}, "application/jsonl": {}},
            "description": "id, label (the score you gave, empty if none), score and positive "
            "(the latest applied round's prediction), round",
        }
    },
)
def export_session(
    session_id: str, store: StoreDep, file_format: Annotated[SessionFormat, Query(alias="format")] = SessionFormat.csv
):
    """A session's labels and latest predictions, one row per item: every item the latest
    `apply` scored, then labeled items it did not score (all labels, before any apply)."""
    return _stream(exports.session(store, session_id, file_format.value))
