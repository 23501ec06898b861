"""Dependencies injected into the routers."""

from __future__ import annotations

from fastapi import Request, UploadFile

from service.errors import TooLarge
from service.store import Store


def get_store(request: Request) -> Store:
    return request.app.state.store


def read_upload(file: UploadFile, limit: int, what: str) -> bytes:
    """The bytes of an upload, refused as soon as they pass `limit` (never read whole first)."""
    raw = file.file.read(limit + 1)
    if len(raw) > limit:
        raise TooLarge(f"{what} is larger than {limit // (1024 * 1024)} MB", limit=limit)
    return raw
