"""Names that become identifiers (datasets, sessions, label sets, tables, functions), checked
once here before they reach SQL or the file system."""

from __future__ import annotations

import re
from typing import Any

from vectrain.core.errors import BadInput

NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,62}")
FUNCTION_PREFIX = "clf_"


def validate_name(name: Any, what: str = "dataset") -> str:
    """A name that becomes part of an identifier: ^[a-z][a-z0-9_]{0,62}$, matched in full
    (a trailing newline is not a name)."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        shown = repr(name) if not isinstance(name, str) or len(name) <= 80 else repr(name[:80] + "...")
        raise BadInput(
            f"Invalid {what} name {shown}: use 1-63 characters, lowercase letters, digits and _, "
            "starting with a letter (e.g. unsplash, cifar10_train).",
            field=what,
        )
    return name


def items_table(dataset: str) -> str:
    return f"items_{validate_name(dataset)}"


def function_name(db: str, session_name: str) -> str:
    """A session's published SQL function. Functions are global to a ClickHouse server, so the
    database is part of the name; neither part may contain `__`, so different (database, session)
    pairs never collide."""
    for value, what in ((db, "database"), (session_name, "session")):
        if "__" in validate_name(value, what):
            raise BadInput(f"{what} name {value!r} may not contain '__'", field=what)
    return f"{FUNCTION_PREFIX}{db}__{session_name}"


def view_name(session_name: str) -> str:
    """A session's published view, in its dataset's database."""
    return validate_name(FUNCTION_PREFIX + session_name, "view")
