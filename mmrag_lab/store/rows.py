"""Rows on their way in and out of Milvus: completeness, RPC-sized batches, id filters, search hits."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from mmrag_lab.errors import StoreError
from mmrag_lab.store.schema import CORE_FIELDS
from mmrag_lab.store.text_fields import TEXT_FIELD, text_of

# Milvus caps one RPC at 64 MB; stay well below it so that large paths or metadata never reach the cap.
MAX_WRITE_BYTES = 16 * 1024 * 1024
ID_CHUNK = 2000
# Reads that decide what to write (existing ids, counts, prune) must see every acknowledged write. On a
# Milvus 2.3 server that costs a time tick (~400 ms) per call, so searches read at "Session" consistency
# instead: this process's own writes are visible, and writes of other processes are once flushed.
STRONG = "Strong"
SESSION = "Session"


def to_hit(hit: Mapping[str, Any], sign: float) -> dict[str, Any]:
    """A plain hit dict: ``id``, ``score`` (higher is better) and the returned fields."""
    entity = dict(hit.get("entity") or {})
    return {"id": hit["id"], "score": sign * float(hit["distance"]), **entity}


def complete_row(row: Mapping[str, Any], text_columns: Sequence[str] = ()) -> dict[str, Any]:
    """The row with exactly the schema's fields and a float32 vector; refuses incomplete rows.

    With ``text_columns`` (a collection with a text field) the row's ``text`` is made from its ``meta``.
    """
    missing = {"id", "vector", *CORE_FIELDS} - set(row)
    if missing:
        raise StoreError(
            f"Row {row.get('id')!r} lacks field(s) {sorted(missing)}; every row must be complete."
        )
    out = {name: row[name] for name in ("id", "vector", *CORE_FIELDS)}
    out["vector"] = np.asarray(out["vector"], dtype=np.float32)
    if text_columns:
        out[TEXT_FIELD] = text_of(out["meta"], text_columns)
    return out


def row_bytes(row: Mapping[str, Any]) -> int:
    vector = np.asarray(row.get("vector", ()), dtype=np.float32)
    meta = json.dumps(row.get("meta") or {}, ensure_ascii=False)
    return vector.nbytes + len(str(row.get("path", "")).encode()) + len(meta.encode()) + 128


def byte_batches(rows: Sequence[Mapping[str, Any]], limit: int) -> Iterator[Sequence[Mapping[str, Any]]]:
    """Consecutive slices of ``rows`` of at most ``limit`` estimated bytes (at least one row each)."""
    start, size = 0, 0
    for index, row in enumerate(rows):
        row_size = row_bytes(row)
        if index > start and size + row_size > limit:
            yield rows[start:index]
            start, size = index, 0
        size += row_size
    if start < len(rows):
        yield rows[start:]


def chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def in_filter(ids: Sequence[str], field: str = "id") -> str:
    return f"{field} in {json.dumps([str(i) for i in ids])}"
