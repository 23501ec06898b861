"""Datasets: list, describe, search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, UploadFile
from pydantic import BaseModel, Field, model_validator

from service.api.deps import get_store
from service.encoders import encoder_for, text_vectors
from service.errors import BadInput
from service.search import search
from service.store import Store

router = APIRouter(tags=["datasets"])


class DatasetInfo(BaseModel):
    name: str
    dim: int
    encoder: str
    model: str
    metric: str
    description: str
    rows: int
    table: str
    created: str


class SearchRequest(BaseModel):
    item_id: str | None = Field(None, description="Search by the vector of this stored item")
    vector: list[float] | None = Field(None, description="Search by this vector (normalized for you)")
    text: str | None = Field(None, description="Search by a text, embedded with the dataset's encoder "
                                               "(CLIP datasets), e.g. \"dogs in the snow\"")
    k: int = Field(10, ge=1, le=1000)
    exclude_ids: list[str] = Field(default_factory=list, description="Ids never to return")
    exact: bool = Field(False, description="Scan every row instead of using the HNSW index")

    @model_validator(mode="after")
    def one_query(self):
        given = [x for x in (self.item_id, self.vector, self.text) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of item_id, vector or text")
        return self


class SearchItem(BaseModel):
    id: str
    url: str
    label: str
    score: float = Field(description="cosine similarity, higher is closer")


class SearchResponse(BaseModel):
    items: list[SearchItem]
    plan: str = Field(description="ann: the HNSW index answered; exact: a full scan did")
    seconds: float


def _info(d: dict) -> DatasetInfo:
    return DatasetInfo(**{**d, "created": str(d["created"])})


@router.get("/datasets", response_model=list[DatasetInfo])
def list_datasets(store: Annotated[Store, Depends(get_store)]):
    return [_info(d) for d in store.datasets()]


@router.get("/datasets/{name}", response_model=DatasetInfo)
def get_dataset(name: str, store: Annotated[Store, Depends(get_store)]):
    return _info(store.dataset(name))


@router.post("/datasets/{name}/search", response_model=SearchResponse)
def search_dataset(name: str, body: SearchRequest, store: Annotated[Store, Depends(get_store)]):
    """Nearest items, best first. Returns exactly k items whenever k non-excluded items exist."""
    vector = body.vector
    if body.text is not None:
        if not body.text.strip():
            raise BadInput("text: empty text has nothing to search for")
        vector = text_vectors(store.dataset(name), [body.text], store.settings)[0]
    result = search(store, name, vector=vector, item_id=body.item_id, k=body.k,
                    exclude_ids=body.exclude_ids, exact=body.exact)
    return SearchResponse(items=result.items, plan=result.plan, seconds=result.seconds)


MAX_UPLOAD_BYTES = 20 * 1024 * 1024


@router.post("/datasets/{name}/search/image", response_model=SearchResponse)
def search_dataset_by_image(
    name: str,
    store: Annotated[Store, Depends(get_store)],
    file: Annotated[UploadFile, File(description="The query image (JPEG, PNG, ...)")],
    k: Annotated[int, Form(ge=1, le=1000)] = 10,
    exclude_ids: Annotated[list[str] | None, Form(description="Ids never to return (repeat the field)")] = None,
    exact: Annotated[bool, Form()] = False,
):
    """Nearest items to an uploaded image (multipart/form-data), embedded with the dataset's encoder."""
    import io

    from PIL import Image, UnidentifiedImageError

    encoder = encoder_for(store.dataset(name), store.settings)
    raw = file.file.read(MAX_UPLOAD_BYTES + 1)
    if len(raw) > MAX_UPLOAD_BYTES:
        raise BadInput(f"The image is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    try:
        image = Image.open(io.BytesIO(raw))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError):
        raise BadInput(f"{file.filename or 'the upload'} is not an image PIL can read (JPEG, PNG, WebP, ...)") from None
    vector = encoder.encode_images([image.convert("RGB")])[0]
    result = search(store, name, vector=vector, k=k, exclude_ids=exclude_ids or [], exact=exact)
    return SearchResponse(items=result.items, plan=result.plan, seconds=result.seconds)
