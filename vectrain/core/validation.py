"""The one validation layer: the limits on every input (the choices are in vectrain.core.choices).

Limits
come from Settings (vectrain.core.config), so raising VECTRAIN_SEARCH_MAX_K raises it everywhere; the
API's schema only states the lower bounds, and these checks answer everything else with one
message for the API and the CLI.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from vectrain.core.errors import BadInput, TooLarge

if TYPE_CHECKING:
    from vectrain.core.config import Settings


# JSON numbers are doubles; a wider integer is not a position or a count (no wraparound).
MAX_INT = 2**53
MAX_ID_CHARS = 4096


def check_int(value: Any, what: str, low: int = 0, high: int = MAX_INT) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise BadInput(f"{what} must be an integer, got {value!r}", field=what)
    if not low <= int(value) <= high:
        raise BadInput(f"{what} must be from {low} to {high}, got {value}", field=what)
    return int(value)


def check_k(value: Any, settings: Settings, what: str = "k") -> int:
    return check_int(value, what, 1, settings.search_max_k)


def check_offset(value: Any, settings: Settings) -> int:
    return check_int(value, "offset", 0, settings.max_offset)


def check_round(value: Any) -> int:
    return check_int(value, "round", 0, 2**32 - 1)  # rounds are UInt32 in the database


def check_ids(ids: Any, what: str, settings: Settings, allow_empty: bool = False) -> list[str]:
    """A list of distinct non-empty id strings, at most settings.max_ids."""
    if not isinstance(ids, (list, tuple)):
        raise BadInput(f"{what}: give a list of item ids", field=what)
    if not ids and not allow_empty:
        raise BadInput(f"{what}: give a non-empty list of item ids", field=what)
    if len(ids) > settings.max_ids:
        raise TooLarge(f"{what}: at most {settings.max_ids} ids per request, got {len(ids)}", field=what)
    for i in ids:
        if not isinstance(i, str) or not i or len(i) > MAX_ID_CHARS:
            shown = repr(i) if not isinstance(i, str) or len(i) <= 80 else f"a {len(i)}-character string"
            raise BadInput(
                f"{what}: item ids must be strings of 1 to {MAX_ID_CHARS} characters, got {shown}", field=what
            )
    if len(set(ids)) != len(ids):
        seen, dupes = set(), []
        for i in ids:
            if i in seen and i not in dupes:
                dupes.append(i)
            seen.add(i)
        raise BadInput(f"{what}: duplicate ids {dupes[:5]}; give each item once", field=what)
    return list(ids)


def check_texts(texts: Any, what: str, settings: Settings) -> list[str]:
    texts = [texts] if isinstance(texts, str) else texts
    if not isinstance(texts, (list, tuple)) or not texts:
        raise BadInput(f"{what}: give one or more non-empty texts", field=what)
    if len(texts) > settings.max_texts:
        raise TooLarge(f"{what}: at most {settings.max_texts} texts per request, got {len(texts)}", field=what)
    for t in texts:
        check_text(t, what, settings)
    return [t.strip() for t in texts]


def check_text(text: Any, what: str, settings: Settings) -> str:
    if not isinstance(text, str) or not text.strip():
        raise BadInput(f"{what}: empty text has nothing to search for", field=what)
    if len(text) > settings.max_text_chars:
        raise TooLarge(f"{what}: at most {settings.max_text_chars} characters, got {len(text)}", field=what)
    return text.strip()


def check_score(value: Any, what: str) -> float:
    """A label score: a number in [-1, 1] (a boolean is not a score)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.floating, np.integer))
        or not math.isfinite(float(value))
        or not -1.0 <= float(value) <= 1.0
    ):
        raise BadInput(
            f"{what}: score {value!r} is outside [-1, 1]; use +1 for positive, -1 for negative, or a grade between.",
            field=what,
        )
    return float(value)


LABELER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._@+-]{0,63}")


def check_labeler(value: Any, what: str = "labeler") -> str:
    """A labeler's name: 1 to 64 ASCII letters, digits, spaces and `._@+-`, starting with a letter
    or digit (it travels in an HTTP header and names a key in VECTRAIN_API_KEYS)."""
    name = value.strip() if isinstance(value, str) else value
    if not isinstance(name, str) or not LABELER_NAME.fullmatch(name):
        raise BadInput(
            f"{what}: a labeler's name is 1 to 64 letters, digits, spaces and ._@+- (starting with a letter "
            f"or digit), got {str(value)[:80]!r}",
            field=what,
        )
    return name


def check_fraction(value: Any, what: str, low: float = 0.0, high: float = 1.0, high_open: bool = True) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(float(value))
        or not (low <= float(value) < high if high_open else low <= float(value) <= high)
    ):
        raise BadInput(
            f"{what} must be a number in [{low}, {high}{')' if high_open else ']'}, got {value!r}", field=what
        )
    return float(value)


def check_count(values: Sequence, what: str, limit: int) -> None:
    if len(values) > limit:
        raise TooLarge(f"{what}: at most {limit} per request, got {len(values)}", field=what)


def exactly_one(what: str, **given: Any) -> str:
    """The name of the one argument given (not None); BadInput otherwise."""
    names = [k for k, v in given.items() if v is not None]
    if len(names) != 1:
        raise BadInput(
            f"Give exactly one of {', '.join(given)}"
            + (f" (got {', '.join(names)})" if names else "")
            + f" {what}".rstrip()
        )
    return names[0]
