"""What the API's models add for sessions with classes (vectrain.labeling.multiclass): fields that
only they fill, and their estimate."""

from __future__ import annotations

from pydantic import BaseModel, Field


def class_field(description: str | None = None, **kwargs):
    """A field of multi-class sessions only: left out of the answer when null, so a binary
    session's answers stay as they were."""
    return Field(None, exclude_if=lambda value: value is None, description=description, **kwargs)


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
