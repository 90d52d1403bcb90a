"""Types of sidecar metadata columns: inferred at ingest, kept in the collection record, used by filters.

A column is ``int``, ``float``, ``bool`` or ``text``; JSON Lines sidecars may also hold lists, typed
``list[int]``, ``list[float]``, ``list[bool]`` or ``list[text]``. CSV cells are text, so their type is
read from what every non-empty cell of the column looks like (``2021`` is an int, ``12.5`` a float,
``true``/``false`` a bool; ``007`` stays text). JSON values keep their JSON type. A column whose cells disagree becomes the
widest type that holds them all: int and float make float, anything else with text makes text.

Filter values are coerced by the stored type, so ``year=2021`` typed in a shell matches the integer 2021,
and ``code=7`` from the app matches the text ``"7"``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

SCALARS = ("int", "float", "bool", "text")
# A leading zero (``007``, a code or a zip) is text: reading it as a number would lose the zeros.
_INT = re.compile(r"[+-]?(0|[1-9]\d{0,17})")
_ZERO_LED = re.compile(r"[+-]?0\d")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_TRUE, _FALSE = frozenset({"true", "yes"}), frozenset({"false", "no"})


class CoercionError(ValueError):
    """A value that the column's type cannot hold."""


def widen(a: str | None, b: str | None) -> str:
    """The narrowest type holding values of both types (``None`` is "no value seen yet")."""
    if a is None or a == b:
        return b or a or "text"
    if b is None:
        return a
    if {a, b} == {"int", "float"}:
        return "float"
    if a.startswith("list[") and b.startswith("list["):
        return f"list[{widen(a[5:-1], b[5:-1])}]"
    return "text"


def type_of(value: Any, from_text: bool) -> str:
    """The type of one cell: a CSV cell (``from_text``) by its look, a JSON value by its JSON type."""
    if isinstance(value, list):
        inner = None
        for item in value:
            inner = widen(inner, type_of(item, from_text=False))
        return f"list[{inner or 'text'}]"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str) and from_text:
        text = value.strip()
        if _INT.fullmatch(text):
            return "int"
        if _FLOAT.fullmatch(text) and not _ZERO_LED.match(text):
            return "float"
        if text.lower() in ("true", "false"):
            return "bool"
    return "text"


def infer_types(rows: Iterable[dict[str, Any]], from_text: bool) -> dict[str, str]:
    """``{column: type}`` over every non-empty cell of ``rows``."""
    types: dict[str, str | None] = {}
    for row in rows:
        for key, value in row.items():
            types[key] = widen(types.get(key), type_of(value, from_text))
    return {key: kind or "text" for key, kind in types.items()}


def coerce(value: Any, kind: str, column: str) -> Any:
    """``value`` as the column's type (a list type accepts one item, as for ``json_contains``).

    Raises:
        CoercionError: The value cannot be read as that type; the message names column, type and value.
    """
    target = kind[5:-1] if kind.startswith("list[") else kind
    try:
        return _scalar(value, target)
    except (ValueError, OverflowError):
        raise CoercionError(
            f"Metadata column {column!r} holds {kind} values; {value!r:.60} is not {_article(target)}."
        ) from None


def coerce_row(meta: dict[str, Any], types: dict[str, str]) -> dict[str, Any]:
    """A sidecar row with every value stored as its column's type (lists item by item)."""
    out = {}
    for key, value in meta.items():
        kind = types.get(key, "text")
        if kind.startswith("list["):
            out[key] = [coerce(item, kind, key) for item in value] if isinstance(value, list) else value
        else:
            out[key] = coerce(value, kind, key)
    return out


def _scalar(value: Any, kind: str) -> Any:
    if kind == "text":
        if isinstance(value, (dict, list)):
            raise ValueError(value)
        return ("true" if value else "false") if isinstance(value, bool) else str(value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE | {"1"} or text in _FALSE | {"0"}:
            return text in _TRUE | {"1"}
        raise ValueError(value)
    if isinstance(value, bool):
        raise ValueError(value)
    if kind == "int":
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int) or (isinstance(value, str) and _INT.fullmatch(value.strip())):
            return int(value)
        raise ValueError(value)
    number = float(value) if isinstance(value, (int, float)) or _FLOAT.fullmatch(str(value).strip()) else None
    if number is None or not math.isfinite(number):
        raise ValueError(value)
    return number


def _article(kind: str) -> str:
    return {
        "int": "an int (a whole number)",
        "float": "a float (a number)",
        "bool": "a bool (true/false)",
    }.get(kind, f"a {kind}")
