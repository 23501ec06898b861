"""The rules the service enforces, stated in its OpenAPI schema.

The checks themselves stay where they are (vectrain.core.validation and the domain: one message
for the API and the CLI, 400 or 413); these helpers put the same rules into the schema so a
client, a code generator or a fuzzer knows them: name patterns, limits that come from Settings
(filled in when the schema is built: `limit(maximum="search_max_k")`), and which fields go
together (`exactly_one`, `at_most_one`).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from vectrain.core.config import Settings
from vectrain.core.names import FUNCTION_PREFIX, NAME_RE
from vectrain.core.validation import MAX_ID_CHARS

MARK = "x-vectrain-setting"  # {keyword: setting name}, replaced by {keyword: the setting's value}
NAME = {"pattern": f"^{NAME_RE.pattern}$"}
# A session's name also names its SQL view clf_<name> (63 characters) and has no "__".
SESSION_NAME = {"pattern": "^[a-z](_?[a-z0-9])*_?$", "maxLength": 63 - len(FUNCTION_PREFIX)}
ID_LENGTH = {"minLength": 1, "maxLength": MAX_ID_CHARS}  # an item id (beside a field's own type)
ID = {"type": "string", **ID_LENGTH}
# Not empty, not only spaces: a character outside Python's whitespace (what str.strip() removes),
# spelled out so every regex engine reads the same set.
TEXT = {"pattern": "[^\t-\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"}
TEMPLATE = {"pattern": r"^[^{}]*\{\}[^{}]*$"}  # a prompt with one {} where the label goes
SPLIT = {"minLength": 1, "maxLength": 256}  # a split's name (beside a field's own type)
NOT_NULL = {"not": {"type": "null"}}


K = {MARK: {"maximum": "search_max_k"}}
# Its length is the dataset's dimension; not all zeros (a direction).
VECTOR = {"items": {"type": "number"}, "minItems": 1, "contains": {"not": {"const": 0}}}


def text(setting: str = "max_text_chars") -> dict[str, Any]:
    """A text that is not only spaces, at most `setting` characters."""
    return {**TEXT, MARK: {"maxLength": setting}}


def texts() -> dict[str, Any]:
    return {"items": {"type": "string", **text()}, "minItems": 1, MARK: {"maxItems": "max_texts"}}


def vectors(setting: str = "max_vectors") -> dict[str, Any]:
    """A list of vectors, at most `setting` of them."""
    return {"items": {"type": "array", **VECTOR}, "minItems": 1, MARK: {"maxItems": setting}}


def limit(**settings: str) -> dict[str, Any]:
    """Schema keywords whose values are settings, e.g. limit(maximum="search_max_k")."""
    return {MARK: dict(settings)}


def ids(setting: str = "max_ids") -> dict[str, Any]:
    """A list of distinct item ids, at most `setting` of them."""
    return {"items": ID, "uniqueItems": True, MARK: {"maxItems": setting}}


def given(field: str, schema: dict | None = None) -> dict[str, Any]:
    """`field` is present and not null (and matches `schema`)."""
    return {"required": [field], "properties": {field: schema or NOT_NULL}}


def exactly_one(*choices: str | list[str]) -> dict[str, Any]:
    """Exactly one of the fields (a list: any of a group of fields) is given."""
    return {"oneOf": [_any(c) for c in choices]}


def requires(field: str, other: str) -> dict[str, Any]:
    """`field` given only with `other` given."""
    return {"anyOf": [{"not": given(field)}, given(other)]}


def all_of(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"allOf": list(rules)}


def at_most_one(*fields: str) -> dict[str, Any]:
    pairs = [(a, b) for i, a in enumerate(fields) for b in fields[i + 1 :]]
    return {"not": {"anyOf": [{"required": [a, b], "properties": {a: NOT_NULL, b: NOT_NULL}} for a, b in pairs]}}


def _any(choice: str | list[str]) -> dict[str, Any]:
    if isinstance(choice, str):
        return given(choice)
    return {"anyOf": [given(f, {"type": "array", "minItems": 1}) for f in choice]}


def install(app: FastAPI, settings: Settings) -> None:
    """The app's /openapi.json with the settings' values in place of their marks."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = _fill(schema, settings)
        return app.openapi_schema

    app.openapi = openapi


def _fill(node: Any, settings: Settings) -> Any:
    if isinstance(node, list):
        return [_fill(x, settings) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _fill(v, settings) for k, v in node.items() if k != MARK}
    for keyword, setting in (node.get(MARK) or {}).items():
        out[keyword] = getattr(settings, setting)
    return out
