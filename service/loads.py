"""Loads handed to the running service: what a request may read, and the job that loads it.

`POST /datasets/{name}/load` names a source (images, cifar10, cifar100, unsplash, features,
demo) and either a path on the service's machine or an uploaded features file. Paths are
hostile until checked:
- from the CLI on the same machine (service.trust) any absolute path its user can read;
- from any other client only paths that resolve (symlinks and `..` included) inside one of
  VECTRAIN_LOAD_ROOTS; anything else is 403, whether it exists or not. With no roots set,
  clients upload a features file instead.
Inside a folder, a symlinked image of a remote client's load is read only when it resolves
inside the roots too. Nothing from a request reaches the network: the CIFAR download and
Unsplash's image fetching are for the CLI on the same machine only.

An upload is streamed to a file under `<VECTRAIN_DATA_DIR>/uploads` (bounded by
VECTRAIN_MAX_LOAD_BYTES) and removed when its job ends. The load itself is the CLI's loader,
run as a job with the job's progress in place of the terminal bar; every loader skips stored
ids, so rerunning a failed or cancelled load adds only what is missing.
"""

from __future__ import annotations

import os
import shlex
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from service.config import Settings
from service.errors import BadInput, Forbidden, ServiceUnavailable, TooLarge
from service.runner import Progress, Work
from service.names import validate_name
from service.store import Store
from service.validation import Choice

UPLOAD_SUFFIXES = (".npz", ".parquet")
MAX_PATH_CHARS = 4096
STALE_UPLOAD_SECONDS = 3600  # uploads of jobs a dead process left are removed at start-up


class LoadSource(Choice):
    images = "images"  # a folder of images (ImageFolder layout)
    cifar10 = "cifar10"  # the CIFAR-10 python archive or its folder
    cifar100 = "cifar100"
    unsplash = "unsplash"  # the Unsplash Lite photos TSV, with a folder of <photo_id>.jpg
    features = "features"  # .npz or .parquet embeddings
    demo = "demo"  # scikit-learn's digits (bundled: no path)


@dataclass(frozen=True)
class LoadRequest:
    source: LoadSource
    dataset: str
    path: str | None = None  # images: the folder; cifar: archive or folder; unsplash: the TSV; features: the file
    images: str | None = None  # unsplash: the folder of <photo_id>.jpg
    encoder: str | None = None
    labels: str = "folders"  # images: folders | none
    split: str = "all"  # cifar: train | test | all
    limit: int | None = None


@dataclass(frozen=True)
class Planned:
    params: dict
    work: Work
    hint: str


# -- paths --------------------------------------------------------------------------------------
def load_roots(settings: Settings) -> list[Path]:
    """VECTRAIN_LOAD_ROOTS, resolved."""
    roots = []
    for raw in filter(None, (part.strip() for part in settings.load_roots.split(","))):
        root = Path(raw).expanduser()
        if not root.is_absolute():
            raise ServiceUnavailable(f"VECTRAIN_LOAD_ROOTS: {raw!r} is not an absolute path; fix the service's "
                                     "setting.")
        roots.append(Path(os.path.realpath(root)))
    return roots


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def resolve_path(raw: str, settings: Settings, trusted: bool, what: str = "path") -> Path:
    """The real path a request names, after checking it may be read. Trusted (the CLI on this
    machine): any absolute path. Otherwise: inside a load root after resolving symlinks and
    `..` (a relative path is taken relative to the first root), else Forbidden."""
    if not isinstance(raw, str) or not raw.strip():
        raise BadInput(f"{what}: give a path", field=what)
    if len(raw) > MAX_PATH_CHARS or "\x00" in raw:
        raise BadInput(f"{what}: not a usable path", field=what)
    if trusted:
        path = Path(raw).expanduser()
        if not path.is_absolute():
            raise BadInput(f"{what}: give an absolute path (the service does not share the CLI's working "
                           "directory)", field=what)
        return Path(os.path.realpath(path))
    roots = load_roots(settings)
    if not roots:
        raise Forbidden("This service reads no files for remote clients (VECTRAIN_LOAD_ROOTS is not set): upload "
                        "a features file instead (multipart field `file`), or ask its operator to set the load "
                        "roots.", field=what)
    given = Path(raw)
    real = Path(os.path.realpath(given if given.is_absolute() else roots[0] / given))
    if not any(_inside(real, root) for root in roots):
        raise Forbidden(f"{what} {raw!r} is outside the folders this service loads from (VECTRAIN_LOAD_ROOTS); "
                        "name a path under one of them, or upload a features file.", field=what)
    return real


def _existing(path: Path, raw: str, what: str, kind: str) -> Path:
    ok = path.is_dir() if kind == "folder" else path.is_file()
    if not ok:
        raise BadInput(f"{what} {raw!r}: no such {kind}" + (" under the load roots" if not raw.startswith("/") else ""),
                       field=what)
    return path


# -- uploads ------------------------------------------------------------------------------------
def upload_route(settings: Settings) -> tuple[str, str, int, str]:
    """The route that takes uploads and its body limit (the file, plus room for the form's fields)."""
    return "POST", r"/datasets/[^/]+/load", settings.max_load_bytes + 64 * 1024, "VECTRAIN_MAX_LOAD_BYTES"


def check_upload(req: LoadRequest) -> None:
    """Whether a request may come with an uploaded file (checked before the file is stored)."""
    if LoadSource.parse(req.source, "source") != LoadSource.features:
        raise BadInput(f"An uploaded file is a features file: use source features, not {req.source}", field="file")
    if req.path:
        raise BadInput("Give either a path or an uploaded file, not both", field="path")


def uploads_dir(settings: Settings) -> Path:
    return Path(settings.data_dir) / "uploads"


def save_upload(source: BinaryIO, filename: str, settings: Settings) -> Path:
    """Copy an uploaded features file to a private file of its own, in chunks, refusing it as
    soon as it passes VECTRAIN_MAX_LOAD_BYTES."""
    suffix = Path(filename or "").suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise BadInput(f"The uploaded file {filename!r} is not .npz or .parquet: upload precomputed features "
                       "(vectors and ids) in one of those.", field="file")
    folder = uploads_dir(settings)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = folder / f"{uuid.uuid4().hex}{suffix}"
    limit = settings.max_load_bytes
    copied = 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(1 << 20):
                copied += len(chunk)
                if copied > limit:
                    raise TooLarge(f"The uploaded file is larger than {limit:,} bytes (VECTRAIN_MAX_LOAD_BYTES).",
                                   limit=limit)
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    if copied == 0:
        target.unlink(missing_ok=True)
        raise BadInput(f"The uploaded file {filename!r} is empty.", field="file")
    return target


def remove_stale_uploads(settings: Settings) -> None:
    """Uploads of jobs a dead process left behind (a live job's upload is younger than this)."""
    folder = uploads_dir(settings)
    if not folder.is_dir():
        return
    cutoff = time.time() - STALE_UPLOAD_SECONDS
    for entry in folder.iterdir():
        try:
            if entry.is_file() and entry.stat().st_mtime < cutoff:
                entry.unlink()
        except OSError:
            pass


# -- the job ------------------------------------------------------------------------------------
def _result(summary) -> dict:
    return {**summary.as_dict(), "message": summary.line()}


def plan(store: Store, req: LoadRequest, trusted: bool, upload: Path | None = None,
         upload_name: str | None = None) -> Planned:
    """Check a load request (names, options, paths) and make its job's work. Nothing is read
    or written yet, beyond the checks."""
    settings = store.settings
    dataset = validate_name(req.dataset)
    source = LoadSource.parse(req.source, "source")
    if req.limit is not None and (isinstance(req.limit, bool) or req.limit < 0):
        raise BadInput("limit must be 0 or more", field="limit")
    if req.limit is not None and source in (LoadSource.features, LoadSource.demo):
        raise BadInput(f"limit is for images, cifar10, cifar100 and unsplash, not {source.value}", field="limit")
    if req.encoder is not None and (not isinstance(req.encoder, str) or not 0 < len(req.encoder) <= 200):
        raise BadInput("encoder: give an encoder spec, e.g. clip, clip@layer=6 or pixels@size=32", field="encoder")
    if upload is not None:
        check_upload(req)
    if source == LoadSource.demo and (req.path or req.images):
        raise BadInput("The demo needs no path", field="path")
    params = {"source": source.value, "path": req.path, "file": upload_name, "images": req.images,
              "encoder": req.encoder, "limit": req.limit}
    rerun = "Rerun the same load to add what is missing (stored rows are skipped)"
    args = ["vectrain", "load", source.value, dataset]

    if source == LoadSource.features:
        if upload is None:
            if not req.path:
                raise BadInput("features: give a path (under the load roots) or upload the file (multipart field "
                               "`file`)", field="path")
            path = _existing(resolve_path(req.path, settings, trusted), req.path, "path", "file")
        else:
            path = upload
        encoder = req.encoder or "features"

        def work(store: Store, progress: Progress) -> dict:
            from loaders.features import load_features

            return _result(load_features(store, dataset, path, encoder=encoder, progress=progress))

        hint = ("Upload the same file again: stored rows are skipped." if upload is not None
                else f"{rerun}: {shlex.join(args + [str(path), '--encoder', encoder])}")
        return Planned(_shown(params), work, hint)

    if source == LoadSource.demo:
        def work(store: Store, progress: Progress) -> dict:
            from loaders.demo import load_demo

            return _result(load_demo(store, dataset, progress=progress))

        return Planned(_shown(params), work, f"{rerun}: vectrain load demo --name {dataset}")

    encoder = req.encoder or "clip"
    if source == LoadSource.images:
        if req.labels not in ("folders", "none"):
            raise BadInput(f"labels {req.labels!r}: use folders or none", field="labels")
        if not req.path:
            raise BadInput("images: give the folder's path", field="path")
        folder = _existing(resolve_path(req.path, settings, trusted), req.path, "path", "folder")
        params["labels"] = req.labels
        limit, within = req.limit, None if trusted else load_roots(settings)

        def work(store: Store, progress: Progress) -> dict:
            from loaders.images import load_images

            return _result(load_images(store, dataset, folder, encoder=encoder, labels=req.labels, limit=limit,
                                       progress=progress, within=within))

        args += [str(folder), "--encoder", encoder, "--labels", req.labels]
    elif source in (LoadSource.cifar10, LoadSource.cifar100):
        if req.split not in ("train", "test", "all"):
            raise BadInput(f"split {req.split!r}: use train, test or all", field="split")
        if req.path:
            archive = resolve_path(req.path, settings, trusted)
            if not archive.exists():
                _existing(archive, req.path, "path", "file")
        elif trusted:
            archive = None  # the loader downloads the official archive (md5 checked)
        else:
            raise BadInput(f"{source.value}: give the path of the archive (or its extracted folder) under the load "
                           "roots; this service downloads only for the CLI on its own machine", field="path")
        params["split"] = req.split
        kind, split, limit = source.value, req.split, req.limit

        def work(store: Store, progress: Progress) -> dict:
            from loaders.cifar import load_cifar

            return _result(load_cifar(store, dataset, kind, path=archive, split=split, encoder=encoder, limit=limit,
                                      progress=progress))

        args += (["--path", str(archive)] if archive else []) + ["--split", split, "--encoder", encoder]
    else:  # unsplash
        if not req.path:
            raise BadInput("unsplash: give the path of the photos TSV (photos.tsv000)", field="path")
        tsv = _existing(resolve_path(req.path, settings, trusted), req.path, "path", "file")
        if req.images:
            images = _existing(resolve_path(req.images, settings, trusted, "images"), req.images, "images", "folder")
        elif trusted:
            images = None  # the loader fetches each photo_image_url
        else:
            raise BadInput("unsplash: give `images`, the folder of <photo_id>.jpg under the load roots; this service "
                           "fetches images from the network only for the CLI on its own machine", field="images")
        limit, within = req.limit, None if trusted else load_roots(settings)

        def work(store: Store, progress: Progress) -> dict:
            from loaders.unsplash import load_unsplash

            return _result(load_unsplash(store, dataset, tsv, images=images, encoder=encoder, limit=limit,
                                         progress=progress, within=within))

        args += ["--tsv", str(tsv)] + (["--images", str(images)] if images else []) + ["--encoder", encoder]
    if req.limit is not None:
        args += ["--limit", str(req.limit)]
    params["encoder"] = encoder
    return Planned(_shown(params), work, f"{rerun}: {shlex.join(args)}")


def _shown(params: dict) -> dict:
    return {k: v for k, v in params.items() if v is not None}
