"""Which sidecar values Milvus can store in a row's ``meta`` JSON field, and why not the others."""

from __future__ import annotations

import json
import math
from typing import Any

INT64 = (-(2**63), 2**63 - 1)


def check_meta(meta: dict[str, Any], limit: int) -> str | None:
    """Why ``meta`` cannot be stored (a value of the wrong kind, or over ``limit`` bytes), or None."""
    for key, value in meta.items():
        reason = _value_problem(value, nested=False)
        if reason:
            return f"column {key!r}: {reason}"
    size = len(_json(meta))
    if size > limit:
        widest = max(meta, key=lambda k: len(_json(meta[k])))
        return (
            f"its metadata is {size:,} bytes as JSON, over Milvus' limit of {limit:,} per row; shorten "
            f"column {widest!r}"
        )
    return None


def _value_problem(value: Any, nested: bool) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return None if INT64[0] <= value <= INT64[1] else f"{value} is beyond a 64-bit integer"
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value} is not a finite number"
    if isinstance(value, str):
        return None
    if isinstance(value, list) and not nested:
        return next(filter(None, (_value_problem(item, nested=True) for item in value)), None)
    kind = "a list inside a list" if isinstance(value, list) else f"a JSON {type(value).__name__}"
    return f"{kind}; values are text, numbers, booleans or lists of them"


def _json(value: Any) -> bytes:
    """``value`` as pymilvus sends it (compact UTF-8 JSON), whose length the server checks."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
