"""What the API's models add for sessions with classes (vectrain.labeling.multiclass): how one
starts, fields that only they fill, and their estimate."""

from __future__ import annotations

from pydantic import BaseModel, Field

from vectrain.api import schema
from vectrain.api.models import Request


def class_field(description: str | None = None, **kwargs):
    """A field of multi-class sessions only: left out of the answer when null, so a binary
    session's answers stay as they were."""
    return Field(None, exclude_if=lambda value: value is None, description=description, **kwargs)


class ClassStart(Request):
    """The fields of POST /sessions that make a multi-class session."""

    classes: list[str] | None = Field(
        None,
        description="A multi-class session: its 2 to 100 class names, in key order (keys 1-9 on the page). "
        'There is no implicit "none of these": add a class for it (e.g. "other") if your items need one',
        json_schema_extra={"items": {"type": "string", **schema.TEXT}, "minItems": 2, "maxItems": 100},
    )
    labelset: str | None = Field(
        None,
        description="With classes: each class starts from the vector of this label set's label of the same "
        "name (round 0 is then zero-shot); a class without one starts unknown",
        json_schema_extra=schema.NAME,
    )
    examples: dict[str, list[str]] | None = Field(
        None, description='With classes: example items per class, {"class": [item ids]}, stored as labels'
    )


class ClassEstimate(BaseModel):
    """A multi-class classifier's accuracy from its audit labels (uniform random draws held out of
    training): on the unlabeled items, and over the whole dataset (labeled items known exactly);
    95% Jeffreys intervals."""

    round: int
    accuracy: float
    accuracy_low: float
    accuracy_high: float
    accuracy_all: float
    accuracy_all_low: float
    accuracy_all_high: float
    audited: int
    audit_pending: int
    labeled: int
    items: int
    method: str
