"""A session's labelers: counts per labeler, the items two labelers answered differently, and
their agreement (vectrain.labeling.team)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from vectrain.api.deps import StoreDep, in_thread
from vectrain.api.models import api_router
from vectrain.labeling import team

router = api_router("sessions")


class LabelerCount(BaseModel):
    labeler: str = Field(description="the labeler's name ('': labels given without a name)")
    answers: int = Field(description="items this labeler labeled (their own newest answer each)")
    positives: int
    negatives: int
    neutral: int
    classes: dict[str, int] = Field(
        default_factory=dict, description="a multi-class session: this labeler's answers per class"
    )
    labels: int = Field(description="the session's labels that are this labeler's (the item's newest answer)")


class Answer(BaseModel):
    labeler: str
    score: float
    class_: str | None = Field(None, alias="class", description="a multi-class answer's class")


class Disagreement(BaseModel):
    item_id: str
    label: str = Field(description="the item's own label in the dataset")
    score: float | None = Field(description="the session's label (the newest answer): what training uses")
    class_: str | None = Field(None, alias="class", description="a multi-class session: the session label's class")
    labeler: str | None = Field(description="who gave the session's label")
    answers: list[Answer] = Field(description="every labeler's own answer")


class Agreement(BaseModel):
    labelers: list[str] = Field(description="the two labelers")
    items: int = Field(description="items both labeled")
    agreed: int = Field(description="of those, items with the same answer (the sign of the score, or the class)")
    observed: float = Field(description="agreed / items")
    kappa: float | None = Field(
        description="Cohen's kappa: agreement beyond chance; null below VECTRAIN_AGREEMENT_MIN_ITEMS items"
    )
    kappa_low: float | None = Field(description="approximate 95% interval (large-sample standard error)")
    kappa_high: float | None
    enough: bool = Field(description="they share VECTRAIN_AGREEMENT_MIN_ITEMS items or more")
    reason: str = Field(description="why kappa is null, when it is")


class Disagreements(BaseModel):
    labelers: list[LabelerCount]
    shared: int = Field(description="items two or more labelers labeled")
    disagreements: int = Field(description="of those, items with different answers")
    items: list[Disagreement] = Field(description="the items to review (at most `limit`), by item id")
    agreement: list[Agreement] = Field(description="per pair of labelers that labeled some items both")


@router.get("/sessions/{session_id}/disagreements", response_model=Disagreements, response_model_by_alias=True)
async def disagreements(session_id: str, store: StoreDep, limit: int = 200):
    """Items labeled by two or more labelers with different answers, for review, and each pair of
    labelers' agreement (Cohen's kappa with a 95% interval once they share
    VECTRAIN_AGREEMENT_MIN_ITEMS items). The session's label of an item is its newest answer."""
    return await in_thread(team.disagreements, store, session_id, limit)
