"""Loads handed to the running service: what a request may read, and the job that loads it.

`POST /datasets/{name}/load` names a source (images, cifar10, cifar100, unsplash, features,
demo) and either a path on the service's machine or an uploaded features file. Paths are
hostile until checked (vectrain.jobs.load_paths):
- from the CLI on the same machine (vectrain.core.trust) any absolute path its user can read;
- from any other client only paths that resolve (symlinks and `..` included) inside one of
  VECTRAIN_LOAD_ROOTS; anything else is 403, whether it exists or not. With no roots set,
  clients upload a features file instead.
Inside a folder, a symlinked image of a remote client's load is read only when it resolves
inside the roots too. A path is checked when the request arrives and again when the job opens it,
on the open descriptor (vectrain.core.files.open_inside): a file swapped for a symlink meanwhile
is not read. Nothing from a request reaches the network: the CIFAR download and
Unsplash's image fetching are for the CLI on the same machine only.

An upload is streamed to a file under `<VECTRAIN_DATA_DIR>/uploads` (bounded by
VECTRAIN_MAX_LOAD_BYTES) and removed when its job ends. The load itself is the CLI's loader,
run as a job with the job's progress in place of the terminal bar; every loader skips stored
ids, so rerunning a failed or cancelled load adds only what is missing.

`plan` checks what every source shares, then one planner per source checks its own options and
returns the job's work (a loader call with its arguments bound) and the command that resumes it.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from vectrain.core.choices import Choice
from vectrain.core.config import Settings
from vectrain.core.errors import BadInput
from vectrain.core.files import open_inside
from vectrain.core.names import validate_name
from vectrain.jobs.load_paths import existing, load_roots, resolve_path
from vectrain.jobs.runner import Progress, Work
from vectrain.storage.store import Store

RERUN = "Rerun the same load to add what is missing (stored rows are skipped)"


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


@dataclass(frozen=True)
class _Ask:
    """A checked request, as the planners see it."""

    req: LoadRequest
    source: LoadSource
    dataset: str
    trusted: bool
    settings: Settings
    upload: Path | None
    upload_name: str | None

    def path(self, raw: str, what: str, kind: str) -> Path:
        """A path the request names that must exist: resolved and checked against the roots."""
        return existing(resolve_path(raw, self.settings, self.trusted, what), raw, what, kind)

    def roots(self) -> list[Path]:
        return load_roots(self.settings)

    def params(self, **more) -> dict:
        req = self.req
        base = {
            "source": self.source.value,
            "path": req.path,
            "file": self.upload_name,
            "images": req.images,
            "encoder": req.encoder,
            "limit": req.limit,
        }
        return {k: v for k, v in {**base, **more}.items() if v is not None}

    def command(self, *args: str) -> str:
        limit = ["--limit", str(self.req.limit)] if self.req.limit is not None else []
        return f"{RERUN}: {shlex.join(['vectrain', 'load', self.source.value, self.dataset, *args, *limit])}"


def check_upload(req: LoadRequest) -> None:
    """Whether a request may come with an uploaded file (checked before the file is stored)."""
    source = LoadSource.parse(req.source, "source")
    if source != LoadSource.features:
        raise BadInput(f"An uploaded file is a features file: use source features, not {source.value}", field="file")
    if req.path:
        raise BadInput("Give either a path or an uploaded file, not both", field="path")


def plan(
    store: Store, req: LoadRequest, trusted: bool, upload: Path | None = None, upload_name: str | None = None
) -> Planned:
    """Check a load request (names, options, paths) and make its job's work. Nothing is read
    or written yet, beyond the checks."""
    settings = store.settings
    source = LoadSource.parse(req.source, "source")
    ask = _Ask(req, source, validate_name(req.dataset), trusted, settings, upload, upload_name)
    if req.limit is not None and (isinstance(req.limit, bool) or req.limit < 0):
        raise BadInput("limit must be 0 or more", field="limit")
    if req.limit is not None and source in (LoadSource.features, LoadSource.demo):
        raise BadInput(f"limit is for images, cifar10, cifar100 and unsplash, not {source.value}", field="limit")
    if req.encoder is not None and (not isinstance(req.encoder, str) or not 0 < len(req.encoder) <= 200):
        raise BadInput("encoder: give an encoder spec, e.g. clip, clip@layer=6 or pixels@size=32", field="encoder")
    if upload is not None:
        check_upload(req)
    planned = PLANNERS[source](ask)
    if planned.params.get("encoder", "").split("@")[0] == "clip":  # missing weights: 503 now, not a failed job
        from vectrain.embed.encoders import check_model_available

        check_model_available(settings.clip_model, settings)
    return planned


# -- one planner per source ---------------------------------------------------------------------
def _features(ask: _Ask) -> Planned:
    if ask.upload is None and not ask.req.path:
        raise BadInput(
            "features: give a path (under the load roots) or upload the file (multipart field `file`)", field="path"
        )
    path = ask.upload if ask.upload is not None else ask.path(ask.req.path, "path", "file")
    encoder = ask.req.encoder or "features"
    # An upload is the service's own private file; a path is checked again when the job opens it.
    within = None if ask.trusted or ask.upload is not None else ask.roots()
    work = partial(_load_features, dataset=ask.dataset, path=path, encoder=encoder, within=within)
    if ask.upload is not None:
        return Planned(ask.params(), work, "Upload the same file again: stored rows are skipped.")
    return Planned(ask.params(), work, ask.command(str(path), "--encoder", encoder))


def _demo(ask: _Ask) -> Planned:
    if ask.req.path or ask.req.images:
        raise BadInput("The demo needs no path", field="path")
    hint = f"{RERUN}: vectrain load demo --name {ask.dataset}"
    return Planned(ask.params(), partial(_load_demo, dataset=ask.dataset), hint)


def _images(ask: _Ask) -> Planned:
    req = ask.req
    if req.labels not in ("folders", "none"):
        raise BadInput(f"labels {req.labels!r}: use folders or none", field="labels")
    if not req.path:
        raise BadInput("images: give the folder's path", field="path")
    folder = ask.path(req.path, "path", "folder")
    encoder = req.encoder or "clip"
    within = None if ask.trusted else ask.roots()
    work = partial(
        _load_images,
        dataset=ask.dataset,
        folder=folder,
        encoder=encoder,
        labels=req.labels,
        limit=req.limit,
        within=within,
    )
    return Planned(
        ask.params(labels=req.labels, encoder=encoder),
        work,
        ask.command(str(folder), "--encoder", encoder, "--labels", req.labels),
    )


def _cifar(ask: _Ask) -> Planned:
    req = ask.req
    if req.split not in ("train", "test", "all"):
        raise BadInput(f"split {req.split!r}: use train, test or all", field="split")
    if req.path:
        archive = resolve_path(req.path, ask.settings, ask.trusted)
        if not archive.exists():
            existing(archive, req.path, "path", "file")
    elif ask.trusted:
        archive = None  # the loader downloads the official archive (md5 checked)
    else:
        raise BadInput(
            f"{ask.source.value}: give the path of the archive (or its extracted folder) under the load "
            "roots; this service downloads only for the CLI on its own machine",
            field="path",
        )
    encoder = req.encoder or "clip"
    work = partial(
        _load_cifar,
        dataset=ask.dataset,
        kind=ask.source.value,
        path=archive,
        split=req.split,
        encoder=encoder,
        limit=req.limit,
        within=None if ask.trusted else ask.roots(),
    )
    args = (["--path", str(archive)] if archive else []) + ["--split", req.split, "--encoder", encoder]
    return Planned(ask.params(split=req.split, encoder=encoder), work, ask.command(*args))


def _unsplash(ask: _Ask) -> Planned:
    req = ask.req
    if not req.path:
        raise BadInput("unsplash: give the path of the photos TSV (photos.tsv000)", field="path")
    tsv = ask.path(req.path, "path", "file")
    if req.images:
        images = ask.path(req.images, "images", "folder")
    elif ask.trusted:
        images = None  # the loader fetches each photo_image_url
    else:
        raise BadInput(
            "unsplash: give `images`, the folder of <photo_id>.jpg under the load roots; this service "
            "fetches images from the network only for the CLI on its own machine",
            field="images",
        )
    encoder = req.encoder or "clip"
    within = None if ask.trusted else ask.roots()
    work = partial(
        _load_unsplash, dataset=ask.dataset, tsv=tsv, images=images, encoder=encoder, limit=req.limit, within=within
    )
    args = ["--tsv", str(tsv)] + (["--images", str(images)] if images else []) + ["--encoder", encoder]
    return Planned(ask.params(encoder=encoder), work, ask.command(*args))


PLANNERS: dict[LoadSource, Callable[[_Ask], Planned]] = {
    LoadSource.features: _features,
    LoadSource.demo: _demo,
    LoadSource.images: _images,
    LoadSource.cifar10: _cifar,
    LoadSource.cifar100: _cifar,
    LoadSource.unsplash: _unsplash,
}


# -- the work of each source: the CLI's loader, imported when the job runs (encoders are heavy) --
def _result(summary) -> dict:
    return {**summary.as_dict(), "message": summary.line()}


def _load_features(store: Store, progress: Progress, *, dataset: str, path: Path, encoder: str, within) -> dict:
    from vectrain.loaders.features import load_features

    with open_inside(path, within) as handle:  # what is read is what is checked, whatever the path is now
        return _result(load_features(store, dataset, path, encoder=encoder, progress=progress, handle=handle))


def _load_demo(store: Store, progress: Progress, *, dataset: str) -> dict:
    from vectrain.loaders.demo import load_demo

    return _result(load_demo(store, dataset, progress=progress))


def _load_images(store: Store, progress: Progress, *, dataset, folder, encoder, labels, limit, within) -> dict:
    from vectrain.loaders.images import load_images

    return _result(
        load_images(
            store, dataset, folder, encoder=encoder, labels=labels, limit=limit, progress=progress, within=within
        )
    )


def _load_cifar(store: Store, progress: Progress, *, dataset, kind, path, split, encoder, limit, within) -> dict:
    from vectrain.loaders.cifar import load_cifar

    return _result(
        load_cifar(
            store,
            dataset,
            kind,
            path=path,
            split=split,
            encoder=encoder,
            limit=limit,
            progress=progress,
            within=within,
        )
    )


def _load_unsplash(store: Store, progress: Progress, *, dataset, tsv, images, encoder, limit, within) -> dict:
    from vectrain.loaders.unsplash import load_unsplash

    return _result(
        load_unsplash(
            store, dataset, tsv, images=images, encoder=encoder, limit=limit, progress=progress, within=within
        )
    )
