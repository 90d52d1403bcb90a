"""Which folder owns which rows: a moved folder keeps its name, a returning folder takes its rows back.

Rows are keyed by a folder's *root name* (see :mod:`mmrag_lab.store.record`). Two rules keep a folder that
vanishes for a while (an unmounted drive) from being stored twice:

- :func:`moved_rule`: a folder takes over the name of a vanished folder with the same base name only when
  it holds that folder's files: of the relative paths both have, most hold the same bytes. A folder of
  other files gets a name of its own, and the vanished folder keeps its name and rows for its return.
- :func:`orphans`: a row whose file lies outside the folder its name is recorded for belongs to no
  folder. When a folder ingests the very file at that row's path, the row is that file's: its vector and
  metadata are taken over and the old row deleted, so a path is never stored under two names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mmrag_lab.ingestion.scan import ScanResult, hash_file
from mmrag_lab.store.vector_store import Store

SAMPLE = 32  # shared relative paths hashed to decide a move: enough to tell two folders apart, cheap
ORPHAN_FIELDS = ("root", "path", "content_hash", "meta")


def moved_rule(store: Store, scan: ScanResult) -> Callable[[str], bool]:
    """Whether the folder scanned in ``scan`` is the vanished folder recorded as ``name``, moved."""

    def moved(name: str) -> bool:
        fields = ("rel_path", "content_hash", "file_size")
        stored = {row["rel_path"]: row for row in store.rows_under(name, fields).values()}
        shared = [file for file in scan.files if file.rel in stored]
        step = max(1, len(shared) // SAMPLE)
        same = other = 0
        for file in shared[::step][:SAMPLE]:
            row = stored[file.rel]
            if row["file_size"] != file.size:
                other += 1
                continue
            try:
                digest = hash_file(file.path)
            except OSError:
                continue  # unreadable here: no evidence either way
            same, other = (same + 1, other) if digest == row["content_hash"] else (same, other + 1)
        return same > other

    return moved


def orphans(store: Store, root: str, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Stored rows of other names at the paths of ``rows`` that no recorded folder holds, by path."""
    record = store.record()
    folders = dict(record.roots) if record is not None else {}
    found: dict[str, dict[str, Any]] = {}
    for row in store.rows_at_paths([row["path"] for row in rows], ORPHAN_FIELDS):
        folder = folders.get(row["root"])
        if row["root"] != root and (folder is None or not _within(row["path"], folder)):
            found[row["path"]] = row
    return found


def _within(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip("/") + "/")
