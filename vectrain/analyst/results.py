"""An analyst's result as the JSON body of `POST /sql`, read block by block and cut at its limits.

Values as JSON:
- a String (or FixedString) that is valid UTF-8 is a JSON string; any other is binary and comes
  back as `{"base64": "<its bytes>"}`, so text and bytes can always be told apart (the driver
  would otherwise hand back invalid bytes as hex text: `unhex('ff')` read as "ff");
- a Map whose keys are not all text comes back as a list of `[key, value]` pairs;
- Float32 values come back as the shortest decimal that reads back as the same Float32 (0.6,
  not 0.6000000238418579), as ClickHouse prints them; NaN and infinities are null;
- dates, times, UUIDs, IPs and decimals as strings, as pydantic writes them.

The body is built here, row by row: rows stop at the row limit or before the row that would take
the body past VECTRAIN_SQL_MAX_RESULT_BYTES (`truncated: true`), and the rest of the result is
never read. The engine's own result limits (result_overflow_mode = break) cut only whole blocks,
and a block of 100 rows of 2 MB strings passes them whole.
"""

from __future__ import annotations

import base64
from typing import Any

import pydantic_core

from vectrain.core.vectors import float32_value


def text_or_binary(value: bytes) -> str | dict[str, str]:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(value).decode("ascii")}


def jsonable(value: Any, ch_type: Any = None) -> Any:
    """A value of the driver's, in the form the body holds (see the module doc)."""
    if value is None:
        return None
    kind = type(ch_type).__name__ if ch_type is not None else ""
    if isinstance(value, (bytes, bytearray)):
        return text_or_binary(bytes(value))
    if isinstance(value, float):
        return float32_value(value) if kind == "Float32" else value
    if isinstance(value, dict):
        keys = getattr(ch_type, "key_type", None)
        values = getattr(ch_type, "value_type", None)
        if kind == "Tuple":  # a named tuple
            return {k: jsonable(v, t) for (k, v), t in zip(value.items(), _element_types(ch_type, len(value)))}
        pairs = [(jsonable(k, keys), jsonable(v, values)) for k, v in value.items()]
        if all(isinstance(k, (str, int, float, bool)) for k, _ in pairs):
            return {str(k) if not isinstance(k, str) else k: v for k, v in pairs}
        return [[k, v] for k, v in pairs]
    if isinstance(value, (list, tuple)):
        if kind == "Tuple":
            return [jsonable(v, t) for v, t in zip(value, _element_types(ch_type, len(value)))]
        element = getattr(ch_type, "element_type", None)
        return [jsonable(v, element) for v in value]
    return value


def _at_least(value: Any) -> int:
    """A lower bound of the JSON size of a value: its bytes (text as JSON is at least its UTF-8,
    binary as base64 more), two bytes for anything else."""
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if isinstance(value, (list, tuple)):
        return sum(_at_least(v) for v in value) + 1
    if isinstance(value, dict):
        return sum(_at_least(k) + _at_least(v) for k, v in value.items()) + 1
    return 2  # a number, null or boolean and its comma


def _element_types(ch_type: Any, n: int) -> list:
    types = list(getattr(ch_type, "element_types", None) or [])
    return types if len(types) == n else [None] * n


class Body:
    """The JSON body of a result, built as rows arrive, within a row and a byte limit."""

    def __init__(self, columns: list[str], types: list[Any], max_rows: int, max_bytes: int):
        self.types = types
        self.max_rows, self.max_bytes = max_rows, max_bytes
        self.head = (
            b'{"columns":' + pydantic_core.to_json(columns) + b',"types":'
            b"" + pydantic_core.to_json([t.name for t in types]) + b',"rows":['
        )
        self.rows: list[bytes] = []
        self.size = len(self.head) + 32
        self.truncated = False

    def add(self, row) -> bool:
        """Add a row; False (and truncated) when it would pass a limit: read no further."""
        if len(self.rows) >= self.max_rows:
            self.truncated = True
            return False
        if self.size + _at_least(row) > self.max_bytes:  # before a huge value is decoded or copied
            self.truncated = True
            return False
        cells = [jsonable(v, t) for v, t in zip(row, self.types)]
        text = pydantic_core.to_json(cells, inf_nan_mode="null")
        if self.size + len(text) + 1 > self.max_bytes:
            self.truncated = True
            return False
        self.rows.append(text)
        self.size += len(text) + 1
        return True

    def bytes(self) -> bytes:
        tail = b'],"truncated":' + (b"true" if self.truncated else b"false") + b"}"
        return self.head + b",".join(self.rows) + tail
