"""Dependencies injected into the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from vectrain.analyst.sql import AnalystSQL
from vectrain.core.errors import TooLarge
from vectrain.core.validation import check_labeler
from vectrain.storage.store import Store


async def get_store(request: Request) -> Store:
    return request.app.state.store  # async: no thread-pool hop for a lookup


# The store of every route: `def route(..., store: StoreDep)`.
StoreDep = Annotated[Store, Depends(get_store)]


LABELER_HEADER = "X-Vectrain-Labeler"


async def get_labeler(request: Request) -> str:
    """Who the request labels as: a named key's name (a header cannot change it), else the
    X-Vectrain-Labeler header (checked: 422 on a name that is not one), else '' (no name)."""
    named = getattr(request.state, "key_name", "")
    if named:
        return named
    header = request.headers.get(LABELER_HEADER, "")
    return check_labeler(header, LABELER_HEADER) if header.strip() else ""


# The labeler of a route that records one: `def route(..., labeler: LabelerDep)`.
LabelerDep = Annotated[str, Depends(get_labeler)]


async def in_thread(fn, /, *args, **kwargs):
    """Blocking work (queries) of an async endpoint, in the thread pool. A sync endpoint with a
    response_model hops to the pool twice a request (FastAPI validates its answer there too);
    the interactive loop's endpoints are async and hop once: about 1 ms less a search here."""
    return await run_in_threadpool(fn, *args, **kwargs)


def get_analyst(request: Request) -> AnalystSQL:
    """The app's pool for analysts' SQL, opened at the first POST /sql."""
    state = request.app.state
    with state.analyst_lock:
        if state.analyst is None:
            state.analyst = AnalystSQL.for_store(state.store)
        return state.analyst


def read_upload(file: UploadFile, limit: int, what: str) -> bytes:
    """The bytes of an upload, refused as soon as they pass `limit` (never read whole first)."""
    raw = file.file.read(limit + 1)
    if len(raw) > limit:
        raise TooLarge(f"{what} is larger than {limit // (1024 * 1024)} MB", limit=limit)
    return raw
