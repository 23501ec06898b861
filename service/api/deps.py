"""Dependencies injected into the routers."""

from __future__ import annotations

from fastapi import Request

from service.store import Store


def get_store(request: Request) -> Store:
    return request.app.state.store
