"""The models of a session's labels: what POST /sessions/{id}/labels takes, and what the label
endpoints (list, remove, undo) answer. The routes are vectrain.api.sessions'."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vectrain.api import schema
from vectrain.api.class_models import class_field
from vectrain.api.models import Request
from vectrain.api.team import LabelerCount
from vectrain.labeling.audit import SOURCES


class Label(Request):
    """Exactly one of score (a binary session) or class (a multi-class session)."""

    model_config = ConfigDict(json_schema_extra=schema.exactly_one("score", "class"))

    item_id: str = Field(min_length=1, json_schema_extra=schema.ID_LENGTH)
    # The range is checked by the service (one message for API and CLI), and stated here.
    score: float | None = Field(
        None,
        description="A binary session: in [-1, 1]: +1 positive, -1 negative, graded in between",
        strict=True,
        json_schema_extra={"minimum": -1, "maximum": 1},
    )
    class_: str | None = Field(None, alias="class", description="A multi-class session: one of its classes")
    source: str | None = Field(
        None,
        description="How the item was sampled, as the next batch said (its `source`: "
        "audit, mixed, top, boundary, random), or user (default: picked by "
        "hand). Only items the service drew for the audit may say audit, and "
        "those are audit labels whatever is sent",
        json_schema_extra={"anyOf": [{"type": "string", "enum": list(SOURCES)}, {"type": "null"}]},
    )
    round: int | None = Field(
        None,
        ge=0,
        description="The round of the next batch that served the item",
        json_schema_extra={"maximum": 2**32 - 1},
    )


class LabelBatch(Request):
    labels: list[Label] = Field(min_length=1, json_schema_extra=schema.limit(maxItems="max_ids"))


class LabelCounts(BaseModel):
    labeled: int
    positives: int
    negatives: int
    neutral: int
    per_class: dict[str, int] | None = class_field("a multi-class session: labels of each class")


class LabelsStored(BaseModel):
    stored: int
    labels: LabelCounts
    labelers: list[LabelerCount] = Field(default_factory=list, description="label counts per labeler")


class LabelsRemoved(BaseModel):
    removed: int
    labels: LabelCounts


class StoredLabel(BaseModel):
    item_id: str
    score: float = Field(description="the label given, in [-1, 1]")
    labeled: str
    label: str = Field(description="the item's own label in the dataset ('' when it has none)")
    labeler: str = Field("", description="who gave the session's label ('': no name)")
    answers: list[dict[str, Any]] = Field(
        default_factory=list,
        description="every labeler's own answer ({labeler, score}) when two or more labelers labeled the item",
    )
    source: str = Field(
        description="how the item was sampled: audit, the strategy of the batch that served it, "
        "or user (never served: picked from a search, or an example)"
    )
    audit: bool = Field(description="a random audit draw (held out of training)")
    round: int | None = Field(description="the round whose classifier served it")
    class_: str | None = class_field("a multi-class session: the class given", alias="class")


class LabelList(BaseModel):
    labels: list[StoredLabel]


class UndoneItem(BaseModel):
    item_id: str
    score: float | None = Field(description="the label restored; null: the item has no label again")
    class_: str | None = class_field("a multi-class session: the class restored", alias="class")


class Undone(BaseModel):
    kind: str = Field(description="what was taken back: label (a batch of labels) or remove (a removal)")
    action: int = Field(description="the action's version (nanoseconds)")
    items: list[UndoneItem]
    kept: list[str] = Field(
        default_factory=list, description="items another labeler labeled since: their newer label stays"
    )


class UndoResult(BaseModel):
    undone: Undone
    more: bool = Field(description="an earlier action can be undone too")
    labels: LabelCounts
