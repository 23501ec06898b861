"""The thumbnails table: one small image per (dataset, item), stored in the database so every
engine (embedded or a server) and every analyst sees the same images.

Loaders make thumbnails with vectrain.embed.images.make_thumbnail and hand them to DatasetWriter, which
writes them here with `write`; the API reads one with `get`.
"""

from __future__ import annotations

from dataclasses import dataclass

from vectrain.storage.query import Query, Runner

TABLE = "thumbnails"


@dataclass(frozen=True)
class Thumbnail:
    data: bytes
    format: str  # png | webp | jpeg
    width: int
    height: int

    @property
    def media_type(self) -> str:
        return f"image/{self.format}"


def stored_ids(store: Runner, dataset: str) -> set[str]:
    """Ids of `dataset` that already have a thumbnail."""
    return {row[0] for row in store.query(Query.named("thumbnails.ids", dataset=dataset)).result_rows}


def write(store: Runner, dataset: str, ids: list[str], thumbnails: list[Thumbnail]) -> int:
    """Insert one batch (ids and thumbnails aligned). Returns rows written."""
    if len(ids) != len(thumbnails):
        raise ValueError(f"{len(thumbnails)} thumbnails for {len(ids)} ids")
    if not ids:
        return 0
    import pyarrow as pa  # here: a command that writes no thumbnail never pays for it

    table = pa.table(
        {
            "dataset": pa.array([dataset] * len(ids), pa.string()),
            "id": pa.array(ids, pa.string()),
            "format": pa.array([t.format for t in thumbnails], pa.string()),
            "width": pa.array([t.width for t in thumbnails], pa.uint16()),
            "height": pa.array([t.height for t in thumbnails], pa.uint16()),
            "data": pa.array([t.data for t in thumbnails], pa.binary()),
        }
    )
    store.insert_arrow(TABLE, table)
    return len(ids)


def get(store: Runner, dataset: str, item_id: str) -> Thumbnail | None:
    """The stored thumbnail of one item, or None."""
    rows = store.query(
        Query.named("thumbnails.get", dataset=dataset, id=item_id), column_formats={"data": "bytes"}
    ).result_rows
    if not rows:
        return None
    fmt, width, height, data = rows[0]
    return Thumbnail(bytes(data), fmt, int(width), int(height))


def info(store: Runner, dataset: str, item_id: str) -> dict | None:
    """format, width and height of an item's thumbnail (without its bytes), or None."""
    rows = store.rows(Query.named("thumbnails.info", dataset=dataset, id=item_id))
    return rows[0] if rows else None


def count(store: Runner, dataset: str) -> int:
    return int(store.scalar(Query.named("thumbnails.count", dataset=dataset)) or 0)


def delete(store: Runner, dataset: str) -> None:
    """Remove every thumbnail of a dataset (when the dataset is dropped)."""
    store.command(Query.named("thumbnails.delete_dataset", dataset=dataset).with_settings(mutations_sync=2))
