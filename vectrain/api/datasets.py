"""Datasets: list, describe, search, rebuild the index, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import File, Form, Query, UploadFile
from fastapi import Request as FastAPIRequest
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from vectrain.api import schema
from vectrain.api.browse import ItemFilter, filters_of
from vectrain.api.deps import StoreDep, in_thread, read_upload
from vectrain.api.jobs import JOB_ACCEPTED, runner, submit
from vectrain.api.models import DatasetName, Request, api_router
from vectrain.api.security import reads
from vectrain.core.choices import Recommend
from vectrain.embed.images import Bounds, open_image
from vectrain.jobs.lifecycle import delete_dataset
from vectrain.search.find import search
from vectrain.storage.store import Store

router = api_router("datasets")


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
    index: str = Field(
        description="The vector index: ready, building, missing (search scans until it is "
        "rebuilt) or none (no index at this dimension)"
    )


class SearchRequest(Request):
    """Exactly one of item_id, vector, text, or examples (positive_ids, negative_ids,
    positive_vectors, negative_vectors; at least one of them, VECTRAIN_SEARCH_MAX_EXAMPLES in all)."""

    model_config = ConfigDict(
        json_schema_extra=schema.exactly_one(
            "item_id", "vector", "text", ["positive_ids", "negative_ids", "positive_vectors", "negative_vectors"]
        )
    )

    item_id: str | None = Field(
        None, description="Search by the vector of this stored item", json_schema_extra=schema.ID_LENGTH
    )
    vector: list[float] | None = Field(
        None, description="Search by this vector (normalized for you)", json_schema_extra=schema.VECTOR
    )
    text: str | None = Field(
        None,
        description='Search by a text, embedded with the dataset\'s encoder (CLIP datasets), e.g. "dogs in the snow"',
        json_schema_extra=schema.text(),
    )
    positive_ids: list[str] | None = Field(
        None,
        description="Search by examples (instead of item_id, vector or text): stored items like the ones you want",
        json_schema_extra=schema.ids("search_max_examples"),
    )
    negative_ids: list[str] | None = Field(
        None, description="Stored items unlike the ones you want", json_schema_extra=schema.ids("search_max_examples")
    )
    positive_vectors: list[list[float]] | None = Field(
        None, description="Vectors like the ones you want", json_schema_extra=schema.vectors("search_max_examples")
    )
    negative_vectors: list[list[float]] | None = Field(
        None, description="Vectors unlike the ones you want", json_schema_extra=schema.vectors("search_max_examples")
    )
    strategy: Recommend | None = Field(
        None,
        description="How examples combine, as in Qdrant's recommend API. average_vector (default): one "
        "query, avg(positives) + (avg(positives) - avg(negatives)). best_score: each item "
        "scores its highest similarity to a positive if that is at least its highest to a "
        "negative, else minus the square of the latter. Examples given by id never come back",
    )
    k: int = Field(10, ge=1, description="How many items (at most VECTRAIN_SEARCH_MAX_K)", json_schema_extra=schema.K)
    exclude_ids: list[str] = Field(
        default_factory=list, description="Ids never to return", json_schema_extra=schema.ids()
    )
    exact: StrictBool = Field(False, description="Scan every row instead of using the HNSW index")
    filter: ItemFilter | None = Field(
        None, description="Only items that pass these filters (POST .../browse); not with examples"
    )


class SearchItem(BaseModel):
    id: str
    url: str
    label: str
    score: float = Field(description="cosine similarity, higher is closer (best_score: that strategy's score)")


class SearchResponse(BaseModel):
    items: list[SearchItem]
    plan: str = Field(description="ann: the HNSW index answered; exact: a full scan did")
    seconds: float


def _info(d: dict) -> DatasetInfo:
    return DatasetInfo(**{**d, "created": str(d["created"])})


@router.get("/datasets", response_model=list[DatasetInfo])
def list_datasets(store: StoreDep):
    return [_info(d) for d in store.registry.list()]


@router.get("/datasets/{name}", response_model=DatasetInfo)
def get_dataset(name: DatasetName, store: StoreDep):
    return _info(store.registry.get(name))


@router.post("/datasets/{name}/search", response_model=SearchResponse)
@reads
async def search_dataset(name: DatasetName, body: SearchRequest, store: StoreDep):
    """Nearest items, best first. Give exactly one of item_id, vector or text; or examples:
    positive_ids / negative_ids / positive_vectors / negative_vectors with a `strategy`. Returns
    exactly k items whenever k non-excluded items exist."""
    examples = {
        field: getattr(body, field)
        for field in ("positive_ids", "negative_ids", "positive_vectors", "negative_vectors", "strategy")
    }

    def run():
        return search(
            store,
            name,
            item_id=body.item_id,
            vector=body.vector,
            text=body.text,
            k=body.k,
            exclude_ids=body.exclude_ids,
            exact=body.exact,
            filters=filters_of(store, name, body.filter),
            **examples,
        )

    result = await in_thread(run)
    return SearchResponse(items=result.items, plan=result.plan, seconds=result.seconds)


@router.post("/datasets/{name}/search/image", response_model=SearchResponse)
@reads
def search_dataset_by_image(
    name: DatasetName,
    store: StoreDep,
    file: Annotated[UploadFile, File(description="The query image (JPEG, PNG, WebP, GIF, TIFF, BMP)")],
    k: Annotated[int, Form(ge=1, json_schema_extra=schema.K)] = 10,
    exclude_ids: Annotated[
        list[str], Form(description="Ids never to return (repeat the field)", json_schema_extra=schema.ids())
    ] = None,
    exact: Annotated[bool, Form()] = False,
):
    """Nearest items to an uploaded image (multipart/form-data), embedded with the dataset's encoder."""
    store.registry.get(name, count=False)
    raw = read_upload(file, store.settings.max_upload_bytes, "the image")
    # Reduced while decoding to what an encoder takes at most (CLIP: 224 a side; pixels: up to 512).
    image = open_image(raw, Bounds.of(store.settings), name=file.filename or "the upload", min_sides=(512, 512))
    result = search(store, name, image=image, k=k, exclude_ids=exclude_ids or [], exact=exact)
    return SearchResponse(items=result.items, plan=result.plan, seconds=result.seconds)


class Deleted(BaseModel):
    dataset: str
    rows: int
    sessions: list[str] = Field(description="sessions deleted with it (force)")
    labelsets: list[str] = Field(description="label sets whose zero-shot predictions on it were deleted (force)")


@router.delete("/datasets/{name}", response_model=Deleted)
def delete(
    name: DatasetName,
    store: StoreDep,
    request: FastAPIRequest,
    force: Annotated[bool, Query(description="Also delete the sessions and zero-shot predictions that use it")] = False,
):
    """Delete a dataset: its rows, thumbnails and registry row. 409 while sessions or stored
    zero-shot predictions use it (unless force: then they go too, with the sessions' published
    SQL functions and views), and while a job runs on it or an export of it streams."""
    with runner(request).deleting(name):
        return delete_dataset(store, name, force)


class IndexRequest(Request):
    wait: StrictBool = Field(True, description="false: build as a job (202)")


class IndexBuilt(BaseModel):
    dataset: str
    index: str
    seconds: float


@router.post("/datasets/{name}/index", response_model=IndexBuilt, responses=JOB_ACCEPTED)
def build_index(name: DatasetName, store: StoreDep, request: FastAPIRequest, body: IndexRequest | None = None):
    """Build the vector index where rows lack it (after a cancelled load, or a killed build);
    0 s when it is ready. Search answers meanwhile, by a full scan until the index is built."""
    store.registry.get(name, count=False)

    def work(job_store: Store, progress) -> dict:
        progress.note("building the vector index")
        seconds = job_store.registry.build_index(name, cancel=progress.check)
        return {
            "dataset": name,
            "index": job_store.registry.get(name)["index"],
            "seconds": round(seconds, 3),
            "message": f"built the vector index of {name} in {seconds:.1f} s",
        }

    if body is not None and not body.wait:
        return submit(request, "index", name, {}, work, hint=f"Build it again: POST /datasets/{name}/index.")
    with runner(request).hold(name, "an index build"):
        seconds = store.registry.build_index(name)
    return {"dataset": name, "index": store.registry.get(name)["index"], "seconds": round(seconds, 3)}
