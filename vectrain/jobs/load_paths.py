"""What a load request may read: paths checked against VECTRAIN_LOAD_ROOTS (symlinks and `..`
resolved), and uploaded features files streamed to a private file with a size bound."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import BinaryIO

from vectrain.core.config import Settings
from vectrain.core.errors import BadInput, Forbidden, ServiceUnavailable, TooLarge

UPLOAD_SUFFIXES = (".npz", ".parquet")
MAX_PATH_CHARS = 4096
STALE_UPLOAD_SECONDS = 3600  # uploads of jobs a dead process left are removed at start-up


# -- paths --------------------------------------------------------------------------------------
def load_roots(settings: Settings) -> list[Path]:
    """VECTRAIN_LOAD_ROOTS, resolved."""
    roots = []
    for raw in filter(None, (part.strip() for part in settings.load_roots.split(","))):
        root = Path(raw).expanduser()
        if not root.is_absolute():
            raise ServiceUnavailable(
                f"VECTRAIN_LOAD_ROOTS: {raw!r} is not an absolute path; fix the service's setting."
            )
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
            raise BadInput(
                f"{what}: give an absolute path (the service does not share the CLI's working directory)", field=what
            )
        return Path(os.path.realpath(path))
    roots = load_roots(settings)
    if not roots:
        raise Forbidden(
            "This service reads no files for remote clients (VECTRAIN_LOAD_ROOTS is not set): upload "
            "a features file instead (multipart field `file`), or ask its operator to set the load "
            "roots.",
            field=what,
        )
    given = Path(raw)
    real = Path(os.path.realpath(given if given.is_absolute() else roots[0] / given))
    if not any(_inside(real, root) for root in roots):
        raise Forbidden(
            f"{what} {raw!r} is outside the folders this service loads from (VECTRAIN_LOAD_ROOTS); "
            "name a path under one of them, or upload a features file.",
            field=what,
        )
    return real


def existing(path: Path, raw: str, what: str, kind: str) -> Path:
    ok = path.is_dir() if kind == "folder" else path.is_file()
    if not ok:
        raise BadInput(
            f"{what} {raw!r}: no such {kind}" + (" under the load roots" if not raw.startswith("/") else ""), field=what
        )
    return path


# -- uploads ------------------------------------------------------------------------------------
def upload_route(settings: Settings) -> tuple[str, str, int, str]:
    """The route that takes uploads and its body limit (the file, plus room for the form's fields)."""
    return "POST", r"/datasets/[^/]+/load", settings.max_load_bytes + 64 * 1024, "VECTRAIN_MAX_LOAD_BYTES"


def uploads_dir(settings: Settings) -> Path:
    return Path(settings.data_dir) / "uploads"


def save_upload(source: BinaryIO, filename: str, settings: Settings) -> Path:
    """Copy an uploaded features file to a private file of its own, in chunks, refusing it as
    soon as it passes VECTRAIN_MAX_LOAD_BYTES."""
    suffix = Path(filename or "").suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise BadInput(
            f"The uploaded file {filename!r} is not .npz or .parquet: upload precomputed features "
            "(vectors and ids) in one of those.",
            field="file",
        )
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
                    raise TooLarge(
                        f"The uploaded file is larger than {limit:,} bytes (VECTRAIN_MAX_LOAD_BYTES).", limit=limit
                    )
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
