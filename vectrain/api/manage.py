"""Renaming and deleting a session (vectrain.labeling.manage)."""

from __future__ import annotations

from fastapi import Request as FastAPIRequest
from pydantic import BaseModel, Field

from vectrain.api.deps import StoreDep
from vectrain.api.jobs import runner
from vectrain.api.models import Request, api_router
from vectrain.api.sessions import SessionInfo
from vectrain.labeling import manage
from vectrain.labeling.sessions import MAX_NAME
from vectrain.labeling.state import session_row

router = api_router("sessions")


class RenameSession(Request):
    name: str = Field(
        min_length=1,
        max_length=MAX_NAME,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="The new name: lowercase letters, digits and _, a letter first, no '__' "
        "(the classifier is published as the view clf_<name>)",
    )


class SessionDeleted(BaseModel):
    id: str
    name: str = Field(description="free again for a new session")
    dataset: str
    labels: int = Field(description="labels deleted with it")


@router.patch("/sessions/{session_id}", response_model=SessionInfo)
def rename_session(session_id: str, body: RenameSession, store: StoreDep, request: FastAPIRequest):
    """Rename a session: 409 when the name is taken (or a job is working on its dataset). A
    published classifier is published again under the new name (function and view), and the old
    name is free."""
    s = session_row(store, session_id)
    with runner(request).hold(s["dataset"], f"a rename of session {s['name']}"):
        return manage.rename_session(store, s["id"], body.name)


@router.delete("/sessions/{session_id}", response_model=SessionDeleted)
def delete_session(session_id: str, store: StoreDep, request: FastAPIRequest):
    """Delete a session: its labels and their history, rounds, predictions, audit draws, and
    its published SQL function and view. Its name is free again. 409 while a job is working on
    its dataset."""
    s = session_row(store, session_id)
    with runner(request).hold(s["dataset"], f"a delete of session {s['name']}"):
        return manage.delete_session(store, s["id"])
