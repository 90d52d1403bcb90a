"""KEY=VALUE filter pairs, as ``mmrag search --where`` and the app's filter box take them, read one way.

The pairs become the ``where={...}`` of :func:`mmrag_lab.retrieval.search`, which
:mod:`mmrag_lab.store.filters` turns into a safe expression.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mmrag_lab.errors import QueryError
from mmrag_lab.store.filters import INT_FIELDS, RANGE_KEYS

WHERE_RULES = (
    "KEY=VALUE pairs (keys: path, path_prefix, path_contains, id, width, height, file_size, "
    "min_/max_width, min_/max_height, min_/max_file_size, or a metadata key such as category); spaces "
    "around KEY and VALUE, and one pair of quotes around VALUE, are dropped; repeat a key to accept several "
    "values; the size keys take whole numbers; metadata values are read as the column's stored type (see "
    "`mmrag info`), so year=2021 matches the integer 2021"
)


def parse_where(pairs: Iterable[str]) -> dict[str, Any]:
    """``["category=dress", "min_width=300", "category=hat"]`` -> ``{"category": ["dress", "hat"], ...}``.

    The rules are :data:`WHERE_RULES`. Numbers are read for the size keys only; metadata values stay strings
    here and are coerced to each column's stored type when the filter is built.

    Raises:
        QueryError: A pair has no ``=`` or no key, or a size key's value is not a whole number.
    """
    where: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise QueryError(f"A filter needs KEY=VALUE, got {pair!r} (e.g. --where category=dress).")
        parsed: Any = _unquoted(value.strip())
        if key in INT_FIELDS or key in RANGE_KEYS:
            try:
                parsed = int(parsed)
            except ValueError:
                raise QueryError(f"Filter key {key} needs a whole number, got {value!r}.") from None
        if key in where:
            previous = where[key] if isinstance(where[key], list) else [where[key]]
            where[key] = [*previous, parsed]
        else:
            where[key] = parsed
    return where


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value
