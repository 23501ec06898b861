"""Loads through the running service: a path on its machine, or an uploaded features file, loaded as a job."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import File, Form, Request, UploadFile
from pydantic import BaseModel, Field

from vectrain.api.deps import StoreDep
from vectrain.api.jobs import JobInfo, runner, submit
from vectrain.api.models import DatasetName, api_router
from vectrain.core import trust
from vectrain.jobs import load_paths, loads

router = api_router("loads")


class LoadOptions(BaseModel):
    sources: list[str]
    roots: list[str] = Field(description="Folders a path may name (VECTRAIN_LOAD_ROOTS); empty: uploads only")
    max_upload_bytes: int = Field(description="Largest uploaded features file (VECTRAIN_MAX_LOAD_BYTES)")


def is_local(request: Request) -> bool:
    """A request from the CLI on this machine (vectrain.core.trust)."""
    return trust.is_local(request.headers.get(trust.HEADER), getattr(request.app.state, "local_secret", None))


@router.get("/loads", response_model=LoadOptions)
def load_options(store: StoreDep):
    """What `POST /datasets/{name}/load` may read here."""
    settings = store.settings
    return {
        "sources": loads.LoadSource.values(),
        "roots": [r.strip() for r in settings.load_roots.split(",") if r.strip()],
        "max_upload_bytes": settings.max_load_bytes,
    }


@router.post("/datasets/{name}/load", status_code=202, response_model=JobInfo)
def load_dataset(
    name: DatasetName,
    request: Request,
    store: StoreDep,
    source: Annotated[loads.LoadSource, Form(description="images, cifar10, cifar100, unsplash, features or demo")],
    path: Annotated[
        str,
        Form(
            description=(
                "On the service's machine, under VECTRAIN_LOAD_ROOTS (or relative to the first root): the images "
                "folder, the CIFAR archive or folder, the Unsplash photos TSV, or the features file"
            )
        ),
    ] = None,
    images: Annotated[str, Form(description="unsplash: the folder of <photo_id>.jpg")] = None,
    encoder: Annotated[
        str, Form(description="clip, clip@layer=N, pixels[@size=N] (features: a name for what made the vectors)")
    ] = None,
    labels: Annotated[
        Literal["folders", "none"], Form(description="images: folder names as labels, or none")
    ] = "folders",
    split: Annotated[Literal["train", "test", "all"], Form(description="cifar: which split")] = "all",
    limit: Annotated[int, Form(ge=0, description="Load at most this many")] = None,
    file: Annotated[UploadFile, File(description="A features file (.npz or .parquet) instead of a path")] = None,
):
    """Load data into a dataset as a job (202; follow it at GET /jobs/{id}). Rows already stored
    are skipped, so the same request again resumes a failed or cancelled load. A path outside the
    load roots is 403; an upload larger than VECTRAIN_MAX_LOAD_BYTES is 413 before it is stored."""
    trusted = is_local(request)
    req = loads.LoadRequest(
        source=source,
        dataset=name,
        path=path or None,
        images=images or None,
        encoder=encoder or None,
        labels=labels,
        split=split,
        limit=limit,
    )
    upload = None
    if file is not None and (file.filename or file.size):
        loads.check_upload(req)
        runner(request).check_free(name)  # before the file is stored
        upload = load_paths.save_upload(file.file, file.filename or "", store.settings)
    try:
        planned = loads.plan(store, req, trusted, upload=upload, upload_name=file.filename if upload else None)
        cleanup = (lambda: upload.unlink(missing_ok=True)) if upload is not None else None
        return submit(request, "load", name, planned.params, planned.work, planned.hint, cleanup=cleanup)
    except BaseException:
        if upload is not None:
            upload.unlink(missing_ok=True)
        raise
