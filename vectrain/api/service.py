"""What the caller's API key may do, so a client can show a read-only mode up front."""

from __future__ import annotations

from fastapi import Request as FastAPIRequest
from pydantic import BaseModel, Field

from vectrain.api.deps import LabelerDep
from vectrain.api.models import api_router
from vectrain.api.security import may_write

router = api_router("service")


class WhoAmI(BaseModel):
    auth: bool = Field(description="the service needs an API key")
    role: str = Field(description="write, or read: this key may only read (writes answer 403)")
    may_write: bool
    labeler: str = Field(description="who this request's labels are recorded as ('': no name)")
    named_key: bool = Field(
        description="the name comes with the API key: the X-Vectrain-Labeler header cannot change it"
    )


@router.get("/whoami", response_model=WhoAmI)
def whoami(request: FastAPIRequest, labeler: LabelerDep):
    """What this request's key may do: `write` (labels, sessions, loads, ...) or `read`, and who
    its labels are recorded as: a named key's name, else the X-Vectrain-Labeler header. Without
    API keys configured every caller may write."""
    writes = may_write(request)
    return {
        "auth": request.app.state.keys.enabled,
        "role": "write" if writes else "read",
        "may_write": writes,
        "labeler": labeler,
        "named_key": bool(getattr(request.state, "key_name", "")),
    }
