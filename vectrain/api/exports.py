"""Exports of a dataset and of a session, streamed (read with pandas, DuckDB, a spreadsheet ...)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from enum import Enum
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import StreamingResponse

from vectrain.api.deps import StoreDep
from vectrain.api.jobs import runner
from vectrain.api.models import DatasetName, api_router
from vectrain.jobs import exports

router = api_router("exports")


class DatasetFormat(str, Enum):
    parquet = "parquet"
    csv = "csv"


class SessionFormat(str, Enum):
    csv = "csv"
    jsonl = "jsonl"


def _stream(request: Request, dataset: str, make: Callable[[], exports.Export]) -> StreamingResponse:
    """The export streamed while its dataset is registered as read: a delete of it answers 409
    until the stream ends (or the client goes away), instead of cutting the stream short."""
    release = runner(request).reading(dataset)
    try:
        export = make()
    except BaseException:
        release()
        raise
    return StreamingResponse(
        _Releasing(export.chunks, release),
        media_type=export.media_type,
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"', "Cache-Control": "no-store"},
    )


class _Releasing:
    """The chunks of a stream; `release` runs once when they end, fail, or are dropped unread (a
    client that left before the first chunk: a generator that never started runs no `finally`)."""

    def __init__(self, chunks: Iterator[bytes], release: Callable[[], None]):
        self.chunks, self.release = chunks, release

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        try:
            return next(self.chunks)
        except BaseException:
            self.release()
            raise

    def __del__(self):
        self.release()


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
    name: DatasetName,
    store: StoreDep,
    request: Request,
    file_format: Annotated[DatasetFormat, Query(alias="format")] = DatasetFormat.parquet,
    vectors: Annotated[bool, Query(description="Include each row's vector")] = False,
):
    """Every row of a dataset in id order, streamed page by page (memory stays flat at 1M rows).
    `pandas.read_parquet(url)` or `pandas.read_csv(url)` read it."""
    return _stream(request, name, lambda: exports.dataset(store, name, file_format.value, vectors))


@router.get(
    "/sessions/{session_id}/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/csv": {}, "application/jsonl": {}},
            "description": "id, label (the score you gave, empty if none), score and positive "
            "(the latest applied round's prediction), round. A multi-class session: id, label (the class "
            "you gave), class (predicted), score (its probability), margin, round",
        }
    },
)
def export_session(
    session_id: str,
    store: StoreDep,
    request: Request,
    file_format: Annotated[SessionFormat, Query(alias="format")] = SessionFormat.csv,
):
    """A session's labels and latest predictions, one row per item: every item the latest
    `apply` scored, then labeled items it did not score (all labels, before any apply)."""
    dataset = exports.session_dataset(store, session_id)
    return _stream(request, dataset, lambda: exports.session(store, session_id, file_format.value))
