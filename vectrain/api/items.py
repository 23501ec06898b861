"""Items: one item of a dataset and its image.

Ids may contain `/` (an image folder's ids are relative paths), so the id is the rest of the
path. A final `/image` always asks for the image: `.../items/a/b.jpg/image` is the image of
`a/b.jpg`. A final `/meta` always asks for the item, so `.../items/{id}/meta` names any item,
including one whose id itself ends in `/image` or `/meta`; the short form `.../items/{id}` is the
same for every other id.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header
from fastapi import Query as QueryParam
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from vectrain.api import schema
from vectrain.api.deps import StoreDep
from vectrain.api.models import DatasetName, ErrorResponse, api_router
from vectrain.search import items as svc

router = api_router("items")

# Thumbnails change only when a dataset is deleted and loaded again: a day in the browser's
# own cache (private: with API keys a shared cache must not keep them), then revalidated by ETag.
CACHE_IMAGE = "private, max-age=86400"
# A redirect may become a stored thumbnail after a re-run of the load.
CACHE_REDIRECT = "private, max-age=300"


class ThumbnailInfo(BaseModel):
    format: str = Field(description="png | webp | jpeg")
    width: int
    height: int


class ItemInfo(BaseModel):
    id: str
    url: str = Field(description="Where the item came from (a file:// url for image folders); never served by this API")
    label: str
    split: str
    meta: dict[str, Any] = Field(description="The item's meta column as a JSON object")
    has_image: bool = Field(description="GET .../image answers with a stored thumbnail or a redirect")
    thumbnail: ThumbnailInfo | None = Field(description="The stored thumbnail's size, null when none")


IMAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The thumbnail", "content": {"image/png": {}, "image/webp": {}, "image/jpeg": {}}},
    302: {"description": "No stored thumbnail: the item's http(s) url (Location)"},
    304: {"description": "Not modified (If-None-Match matched the ETag)"},
    404: {
        "model": ErrorResponse,
        "description": "dataset_not_found, item_not_found, or no_image (the item has no image)",
    },
}


@router.get("/datasets/{name}/items/{item_id:path}/image", response_class=Response, responses=IMAGE_RESPONSES)
def get_item_image(
    name: DatasetName,
    item_id: str,
    store: StoreDep,
    size: Annotated[
        int | None,
        QueryParam(
            ge=1,
            json_schema_extra=schema.limit(maximum="thumbnail_max_size"),
            description="Long side in pixels (default "
            "VECTRAIN_THUMBNAIL_SIZE, at most VECTRAIN_THUMBNAIL_MAX_SIZE). "
            "Small images (digits, CIFAR) scale up with sharp pixels; "
            "larger ones only scale down.",
        ),
    ] = None,
    if_none_match: Annotated[str | None, Header()] = None,
):
    """The item's image from the database: its stored thumbnail (with an ETag; 304 when
    If-None-Match matches), else a 302 to its http(s) url, else 404 `no_image`."""
    answer = svc.item_image(store, name, item_id, size, if_none_match)
    if answer.redirect is not None:
        return RedirectResponse(answer.redirect, status_code=302, headers={"Cache-Control": CACHE_REDIRECT})
    headers = {"ETag": answer.etag, "Cache-Control": CACHE_IMAGE}
    if answer.thumbnail is None:
        return Response(status_code=304, headers=headers)
    return Response(answer.thumbnail.data, media_type=answer.thumbnail.media_type, headers=headers)


@router.get("/datasets/{name}/items/{item_id:path}/meta", response_model=ItemInfo)
def get_item_meta(name: DatasetName, item_id: str, store: StoreDep):
    """The item (the explicit form of GET /datasets/{name}/items/{id}, for any id)."""
    return svc.get_item(store, name, item_id)


@router.get("/datasets/{name}/items/{item_id:path}", response_model=ItemInfo)
def get_item(name: DatasetName, item_id: str, store: StoreDep):
    """id, url, label, split, meta (parsed) and whether the item has an image."""
    return svc.get_item(store, name, item_id)
