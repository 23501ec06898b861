"""What the caller's API key may do, so a client can show a read-only mode up front."""

from __future__ import annotations

from fastapi import Request as FastAPIRequest
from pydantic import BaseModel, Field

from vectrain.api.models import api_router
from vectrain.api.security import may_write

router = api_router("service")


class WhoAmI(BaseModel):
    auth: bool = Field(description="the service needs an API key")
    role: str = Field(description="write, or read: this key may only read (writes answer 403)")
    may_write: bool


@router.get("/whoami", response_model=WhoAmI)
def whoami(request: FastAPIRequest):
    """What this request's key may do: `write` (labels, sessions, loads, ...) or `read`. Without
    API keys configured every caller may write."""
    writes = may_write(request)
    return {"auth": request.app.state.keys.enabled, "role": "write" if writes else "read", "may_write": writes}
