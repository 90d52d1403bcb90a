"""Writing what a plan decided without the encoder: copied vectors, changed fields, pruned rows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mmrag_lab.errors import ConfigError
from mmrag_lab.ingestion.phases import Copied, Updated
from mmrag_lab.ingestion.plan import Plan
from mmrag_lab.store.rows import ID_CHUNK, chunks
from mmrag_lab.store.vector_store import Store

VANISHED = "its stored twin vanished while ingesting; run ingest again"
PRUNE_SHARE = 0.5  # a prune may delete up to this share of a folder's rows; more needs prune="all"


def write_copies(store: Store, copies: Iterable[tuple[dict[str, Any], str]]) -> Copied:
    """Give each new or changed row (``copies``: the row and a source id) the vector of a stored row with
    the same bytes.

    Every source vector is read before any row is written: when two files swap names, each row's source
    is the other row, which must still hold its old vector. A row whose source vanished meanwhile (deleted
    by another process) is a failure of the run.
    """
    copies = list(copies)
    if not copies:
        return Copied()
    sources: dict[str, dict] = {}
    for chunk in chunks(sorted({source for _, source in copies}), ID_CHUNK):
        for row in store.get(chunk, output_fields=["vector", "width", "height"]):
            sources[str(row["id"])] = row
    rows, failed = [], []
    for partial, source in copies:
        found = sources.get(source)
        if found is None:  # deleted by another process since the plan was made
            failed.append({"path": partial["path"], "reason": VANISHED})
            continue
        rows.append(
            {**partial, "vector": found["vector"], "width": found["width"], "height": found["height"]}
        )
    already = store.insert_new(rows)
    return Copied(len(rows), tuple(failed), frozenset(already))


def write_updates(store: Store, plan: Plan) -> Updated:
    """Change the fields (metadata, path, size) of rows whose bytes are unchanged; vectors stay."""
    updated = store.update_fields(dict(plan.updates))
    return Updated(updated, sum("meta" in fields for fields in plan.updates.values()))


def drop_superseded(store: Store, plan: Plan) -> None:
    """Delete the rows that this folder's new rows replace (its files, stored under another name)."""
    if plan.superseded:
        store.delete(list(plan.superseded))


def check_prune(plan: Plan, images_dir: str, everything: bool) -> None:
    """Refuse, before anything is written, a prune that would delete more than :data:`PRUNE_SHARE` of the
    folder's rows, unless ``everything``: a folder on an unmounted drive looks empty, not deleted."""
    going, rows = len(plan.stale), plan.stored
    if everything or not going or going <= PRUNE_SHARE * rows:
        return
    share = "all" if going == rows else f"{going / rows:.0%}"
    raise ConfigError(
        f"--prune would delete {going:,} of the {rows:,} rows of folder {plan.root!r} ({share} of them): their "
        f"files are not in {images_dir}. Nothing was written. If the folder is on a drive or share that "
        "is not mounted, mount it and run again; if the files are really gone, run again with --prune-all "
        '(Python: prune="all").'
    )


def prune(store: Store, plan: Plan) -> int:
    """Delete this folder's rows whose file is gone (files that could not be read this time stay); returns
    how many went."""
    return store.delete(list(plan.stale)) if plan.stale else 0
