"""The choices the service offers, as enums: the API's request models and the CLI's options are
built from them. Kept apart from the limits (vectrain.core.validation) so the CLI can build its
options without importing numpy or the settings."""

from __future__ import annotations

from enum import Enum
from typing import Any

from vectrain.core.errors import BadInput


class Choice(str, Enum):
    @classmethod
    def values(cls) -> list[str]:
        return [c.value for c in cls]

    @classmethod
    def parse(cls, value: Any, what: str):
        try:
            return cls(value.value if isinstance(value, Enum) else value)
        except ValueError:
            raise BadInput(f"Unknown {what} {value!r}: use one of {', '.join(cls.values())}", field=what) from None


class Strategy(Choice):
    """How a session picks the next batch to label."""

    mixed = "mixed"  # half the most confident positives, half nearest the threshold
    top = "top"  # the seeds' query: highest similarity to the weights
    boundary = "boundary"  # nearest the decision threshold
    random = "random"  # a uniform sample of the unlabeled rows (a baseline)


class ClassStrategy(Choice):
    """How a multi-class session picks the next batch (vectrain.labeling.multiclass.batches)."""

    balanced = "balanced"  # smallest margins, classes with few labels first, no near-duplicates, 1 in 10 random
    margin = "margin"  # smallest gap between the top two classes: the multi-class boundary
    top = "top"  # round-robin over classes, each class's most confident unlabeled items
    random = "random"  # a uniform sample of the unlabeled rows (a baseline)


class Recommend(Choice):
    """How a search combines positive and negative examples (Qdrant's recommend strategies)."""

    average_vector = "average_vector"  # one query: avg(pos) + (avg(pos) - avg(neg)), normalized
    best_score = "best_score"  # max similarity to a positive, or minus the squared max to a negative


class Labeled(Choice):
    """Which items a filter keeps by a session's labels."""

    any = "any"
    yes = "yes"  # labeled in the session
    no = "no"  # not labeled in the session


class TrainMode(Choice):
    auto = "auto"  # class-balanced logistic regression with a bias, a prior and a calibrated threshold
    seed = "seed"  # the seeds' exact update (SGD on BCE, no bias)


class Weighting(Choice):
    majority = "majority"
    distance = "distance"


class EvalMethod(Choice):
    knn = "knn"
    zero_shot = "zero-shot"
    tourney = "tourney"
