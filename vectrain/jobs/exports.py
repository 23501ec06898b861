"""Exports for pandas and other tools, streamed in pages so a 1M-row dataset never sits in memory.

- A dataset: id, url, label, split, meta (JSON text) and, when asked, the vector; as Parquet
  (one row group per page, written as it is read) or CSV (formatted by the engine; a vector is
  a `[x,y,...]` text cell).
- A session: its latest applied predictions with its labels (id, label, score, positive, round;
  empty where an item has no label), then labels of items without a prediction; as CSV or JSON
  Lines. A multi-class session's: id, label (the class given), class (predicted), score (its
  probability), margin, round.

Every page is a range of the table's primary key (`id > after AND id <= last`, sql/queries/
exports.sql), read as one query: memory is bounded by the page on chDB and on a server, and
other requests run between pages. Checks (unknown dataset or session) run before the first
byte, so they are still JSON errors. While an export streams, its dataset cannot be deleted
(vectrain.api.exports registers it with the job runner: the delete answers 409).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from vectrain.core.errors import BadInput
from vectrain.core.names import items_table
from vectrain.labeling.multiclass import publish as class_publish
from vectrain.labeling.sessions import session_row
from vectrain.storage.query import Query
from vectrain.storage.store import Store

PAGE_ROWS = 65_536  # rows per page without vectors
VECTOR_PAGE_VALUES = 1024 * 1024  # with vectors: rows x dim per page (4 MB of float32)
ITEM_COLUMNS = ["id", "url", "label", "split", "meta"]
SESSION_COLUMNS = ["id", "label", "score", "positive", "round"]
CLASS_SESSION_COLUMNS = ["id", "label", "class", "score", "margin", "round"]
MEDIA_TYPES = {
    "parquet": "application/vnd.apache.parquet",
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/jsonl",
}
CSV_SETTINGS = {"format_csv_null_representation": ""}  # an empty cell reads as NaN in pandas


@dataclass
class Export:
    chunks: Iterator[bytes]
    media_type: str
    filename: str


def session_dataset(store: Store, session_id: str) -> str:
    """The dataset a session's export reads (SessionNotFound before the first byte)."""
    return session_row(store, session_id)["dataset"]


def dataset(store: Store, name: str, fmt: str = "parquet", vectors: bool = False) -> Export:
    if fmt not in ("parquet", "csv"):
        raise BadInput(f"format {fmt!r}: use parquet or csv", field="format")
    info = store.registry.get(name, count=False)  # DatasetNotFound before the first byte
    dim = int(info["dim"])
    where = {"db": store.database, "items": items_table(name)}
    page = Query.named("exports.items_page_vectors" if vectors else "exports.items_page", **where)
    rows = max(16, VECTOR_PAGE_VALUES // dim) if vectors else PAGE_ROWS
    columns = ITEM_COLUMNS + (["vector"] if vectors else [])
    pages = _pages(store, Query.named("exports.items_page_end", **where), page, rows)
    if fmt == "csv":
        chunks = _csv(store, columns, pages)
    else:
        schema = pa.schema(
            [(c, pa.string()) for c in ITEM_COLUMNS] + ([("vector", pa.list_(pa.float32()))] if vectors else [])
        )
        chunks = _parquet(store, schema, pages)
    return Export(chunks, MEDIA_TYPES[fmt], f"{name}.{fmt}")


def session(store: Store, session_id: str, fmt: str = "csv") -> Export:
    if fmt not in ("csv", "jsonl"):
        raise BadInput(f"format {fmt!r}: use csv or jsonl", field="format")
    s = session_row(store, session_id)  # SessionNotFound before the first byte
    if s["classes"]:  # a multi-class session: the label and the predicted class per item
        latest = class_publish.applied_round(store, s)
        applied, round_no = latest is not None, latest or 0
        names = ("classes.export_page_end", "classes.export_page", "classes.export_unscored_labels")
        columns = CLASS_SESSION_COLUMNS
    else:
        rounds = store.rows(Query.named("sessions.prediction_counts", session_id=s["id"]))
        applied, round_no = bool(rounds), int(rounds[-1]["round"]) if rounds else 0
        names = ("exports.predictions_page_end", "exports.session_page", "exports.session_unscored_labels")
        columns = SESSION_COLUMNS
    where = {"session_id": s["id"], "round_no": round_no}

    def queries() -> Iterator[Query]:
        if applied:
            yield from _pages(store, Query.named(names[0], **where), Query.named(names[1], **where), PAGE_ROWS)
        yield Query.named(names[2], applied=int(applied), **where)

    pages = (q.with_settings(join_use_nulls=1) for q in queries())
    if fmt == "csv":
        chunks = _csv(store, columns, pages)
    else:
        chunks = (store.raw(q, "JSONEachRow") for q in pages)
    suffix = f"_r{round_no}" if applied else "_labels"
    return Export(chunks, MEDIA_TYPES[fmt], f"{s['name']}{suffix}.{fmt}")


def _pages(store: Store, end: Query, page: Query, rows: int) -> Iterator[Query]:
    """The page queries of a table in primary-key order: each page ends at the last of the next
    `rows` keys, read just before the page, so rows added meanwhile are not read twice."""
    after = ""
    while True:
        last = store.scalar(end.bind(after=after, rows=rows))
        if not last:
            return
        yield page.bind(after=after, last=last)
        after = last


def _csv(store: Store, columns: list[str], pages: Iterator[Query]) -> Iterator[bytes]:
    yield (",".join(columns) + "\n").encode()
    for q in pages:
        yield store.raw(q.with_settings(CSV_SETTINGS), "CSV")


class _Sink:
    """A write-only file for pyarrow's ParquetWriter whose bytes are taken out as they come."""

    def __init__(self):
        self.parts: list[bytes] = []
        self.position = 0
        self.closed = False

    def write(self, data) -> int:
        data = bytes(data)
        self.parts.append(data)
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def _parquet(store: Store, schema: pa.Schema, pages: Iterator[Query]) -> Iterator[bytes]:
    sink = _Sink()
    writer = pq.ParquetWriter(sink, schema)
    try:
        for q in pages:
            table = store.query_arrow(q)
            writer.write_table(table.select(schema.names).cast(schema))
            if chunk := sink.take():
                yield chunk
    finally:
        writer.close()
    yield sink.take()
