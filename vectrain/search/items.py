"""One item of a dataset, and its image: the stored thumbnail, a redirect to its http(s) url, or
a clear "no image".

The image answer never touches the file system or fetches anything: it is the thumbnail stored
in the database, or a redirect the client follows itself (only to http/https urls, so a `file:`,
`javascript:` or `data:` url recorded by a loader is never handed to a browser).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from vectrain.core.errors import BadInput, ItemNotFound, NoImage
from vectrain.core.names import items_table
from vectrain.core.validation import MAX_ID_CHARS, check_int
from vectrain.embed.images import resize_thumbnail
from vectrain.storage import thumbnails
from vectrain.storage.query import Query
from vectrain.storage.store import Store
from vectrain.storage.thumbnails import Thumbnail


def check_item_id(item_id: str) -> str:
    if not item_id:
        raise BadInput(
            "The item id is empty: give it after items/, e.g. /datasets/digits/items/digit-0005", field="item_id"
        )
    if len(item_id) > MAX_ID_CHARS:
        raise BadInput(f"Item ids have at most {MAX_ID_CHARS} characters; this one has {len(item_id)}", field="item_id")
    return item_id


def parse_meta(text: str) -> dict[str, Any]:
    """The meta column as an object: {} when empty, {"value": ...} for JSON that is not an
    object, {"raw": text} for text that is not JSON (a features file may hold anything)."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {"raw": text}
    return value if isinstance(value, dict) else {"value": value}


def get_item(store: Store, dataset: str, item_id: str) -> dict[str, Any]:
    """id, url, label, split, meta (parsed), has_image and thumbnail (format, width, height or
    None). DatasetNotFound / ItemNotFound otherwise."""
    store.registry.get(dataset, count=False)
    check_item_id(item_id)
    rows = store.rows(Query.named("items.item", db=store.database, items=items_table(dataset), id=item_id))
    if not rows:
        raise ItemNotFound(f"Dataset {dataset!r} has no item {item_id!r}.", dataset=dataset, item=item_id)
    row = rows[0]
    thumb = thumbnails.info(store, dataset, item_id)
    return {
        "id": row["id"],
        "url": row["url"],
        "label": row["label"],
        "split": row["split"],
        "meta": parse_meta(row["meta"]),
        "has_image": thumb is not None or redirect_url(row["url"]) is not None,
        "thumbnail": thumb,
    }


def redirect_url(url: str) -> str | None:
    """`url` when a browser may be sent to it for the image: http or https with a host."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return url.strip()


@dataclass(frozen=True)
class ImageAnswer:
    """Either a thumbnail (with its ETag) or a url to redirect to."""

    thumbnail: Thumbnail | None = None
    etag: str = ""
    redirect: str | None = None


def check_size(size: int | None, store: Store) -> int:
    settings = store.settings
    if size is None:
        return settings.thumbnail_size
    return check_int(size, "size", 1, settings.thumbnail_max_size)


def etag_of(thumb: Thumbnail, size: int) -> str:
    """A strong validator: the stored bytes and the size asked for decide the answer's bytes."""
    digest = hashlib.blake2b(thumb.data, digest_size=16)
    digest.update(f"|{size}".encode())
    return f'"{digest.hexdigest()}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


def item_image(
    store: Store, dataset: str, item_id: str, size: int | None = None, if_none_match: str | None = None
) -> ImageAnswer:
    """The image of one item at `size` on its long side. An ImageAnswer with an empty thumbnail
    and only the etag means "not modified" (the client's copy is current)."""
    store.registry.get(dataset, count=False)
    check_item_id(item_id)
    size = check_size(size, store)
    thumb = thumbnails.get(store, dataset, item_id)
    if thumb is not None:
        etag = etag_of(thumb, size)
        if etag_matches(if_none_match, etag):
            return ImageAnswer(None, etag)
        return ImageAnswer(resize_thumbnail(thumb, size), etag)
    rows = store.rows(Query.named("items.item", db=store.database, items=items_table(dataset), id=item_id))
    if not rows:
        raise ItemNotFound(f"Dataset {dataset!r} has no item {item_id!r}.", dataset=dataset, item=item_id)
    url = redirect_url(rows[0]["url"])
    if url is not None:
        return ImageAnswer(redirect=url)
    raise NoImage(
        f"Item {item_id!r} of dataset {dataset!r} has no image: its loader stored no thumbnail "
        "(e.g. precomputed vectors) and its url is not an http(s) address. Re-run its load to "
        "store thumbnails, where the source has pixels.",
        dataset=dataset,
        item=item_id,
    )
