"""Upgrade a collection of the content-hash keyed schema (record format 1) in place, keeping every vector.

A format-1 row was one distinct content: ``id`` was the sha256 of the bytes, ``path`` the first file seen
with them. The upgrade writes each row again as one file: ``id`` from its folder's root name and relative
path, ``content_hash`` the old id, the vector, path, size and metadata unchanged. Identical files that had
no row of their own get one at the next ingest, from the stored vector, without encoding.

Steps, each safe to interrupt (a re-run picks up where it stopped, in one run, and says so):

1. copy every row, upgraded, into ``<name>__mmrag_migrating``, check the count and mark the copy whole;
2. drop the old collection;
3. rename the new one to the old name, then load it.

A re-run that finds a whole copy finishes steps 2 and 3; one that finds an unmarked copy beside the old
collection starts step 1 again. Nothing loads the temporary collection on the way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

from mmrag_lab.errors import StoreError, StoreFailedError
from mmrag_lab.store.metatypes import infer_types
from mmrag_lab.store.record import RECORD_FORMAT
from mmrag_lab.store.schema import FORMAT1_FIELDS, row_id
from mmrag_lab.store.vector_store import Store

SUFFIX = "__mmrag_migrating"
BATCH = 2000
COPIED = "mmrag_migration_copied"  # property of the temporary collection: its copy is whole (the row count)


@dataclass(frozen=True)
class MigrationResult:
    """What :func:`migrate` did: rows copied, the folders (root name to path), or that nothing was due."""

    collection: str
    rows: int
    roots: dict[str, str]
    already_current: bool = False
    resumed: bool = False

    def summary(self) -> str:
        if self.already_current:
            return f"Collection {self.collection!r} already has the current schema; nothing to do."
        folders = ", ".join(f"{name} = {path}" for name, path in self.roots.items()) or "(none)"
        done = "Finished the interrupted migration of" if self.resumed else "Migrated"
        return (
            f"{done} {self.collection!r}: {self.rows} row(s) now keyed by folder and path, vectors kept "
            f"(nothing re-encoded). Folders: {folders}. Re-ingest a folder to add rows for identical "
            "copies and to type its metadata (pass --metadata)."
        )


def migrate(store: Store, roots: list[str] | tuple[str, ...] = ()) -> MigrationResult:
    """Upgrade ``store``'s collection to the current schema in place; no-op when it is current.

    Args:
        store: The open store of the collection.
        roots: The folders that were ingested; default the common folder of all stored paths.

    Raises:
        CollectionNotFoundError: The collection does not exist.
        ForeignCollectionError: The collection was not made by mmrag_lab.
        StoreError: The copy came out short (the old one is kept).
    """
    temp = Store(store.client, store.uri, store.collection + SUFFIX, store.config, store.handle.token)
    if temp.exists() and _replaceable(store) and (_copy_is_whole(temp) or not store.exists()):
        return _finish(store, temp, resumed=True)  # stopped after the copy: drop what is left, rename
    record = store.open_collection("migrate")
    if record.format >= RECORD_FORMAT:
        return MigrationResult(store.collection, store.count(), dict(record.roots), already_current=True)
    if temp.exists():
        temp.drop()  # an earlier attempt stopped while copying; the old collection is still whole
    store.load()
    paths = [row["path"] for row in store.iterate(("path",))]
    folders = _folders(paths, roots)
    metas = (row["meta"] or {} for row in store.iterate(("meta",)))
    upgraded = replace(
        record,
        format=RECORD_FORMAT,
        roots={name: folder for folder, name in folders.items()},
        metadata_types=infer_types(metas, from_text=False),
    )
    temp.manager.create(upgraded)  # the same schema and index as a new collection
    written, batch = 0, []
    for row in store.iterate(("vector", *FORMAT1_FIELDS), batch_size=BATCH):
        batch.append(_upgrade(row, folders))
        if len(batch) >= BATCH:
            written += temp.insert(batch)
            batch = []
    written += temp.insert(batch) if batch else 0
    temp.flush()
    if temp.count() != len(paths):
        raise StoreFailedError(
            f"Migration of {store.collection!r} copied {temp.count()} of {len(paths)} rows; the old "
            "collection is untouched. Run mmrag migrate again."
        )
    temp.handle.call("alter_collection_properties", temp.collection, {COPIED: str(written)})
    return _finish(store, temp)


def _replaceable(store: Store) -> bool:
    """True when the old collection is gone, of the old format, or what an interrupted drop left of it."""
    if not store.exists():
        return True
    try:
        record = store.record()
    except StoreError:  # a drop that stopped half way leaves a collection Milvus cannot describe
        return True
    return record is not None and record.format < RECORD_FORMAT


def _copy_is_whole(temp: Store) -> bool:
    properties = temp.handle.call("describe_collection", temp.collection).get("properties") or {}
    return bool(properties.get(COPIED))


def _finish(store: Store, temp: Store, resumed: bool = False) -> MigrationResult:
    """Steps 2 and 3: drop the old collection (or what an interrupted drop left of it), rename the copy."""
    if store.exists():
        store.drop()
    store.handle.call("rename_collection", temp.collection, store.collection)
    store.refresh()
    store.load()
    record = store.record()
    return MigrationResult(
        store.collection, store.count(), dict(record.roots) if record else {}, resumed=resumed
    )


def _folders(paths: list[str], roots: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Folder (absolute) to root name, for the given roots or the common folder of ``paths``."""
    folders = [os.path.realpath(root) for root in roots]
    outside = [p for p in paths if not any(_under(p, f) for f in folders)]
    if outside:
        folders.append(os.path.commonpath([os.path.dirname(p) for p in outside]))
    names: dict[str, str] = {}
    for folder in folders:
        base = os.path.basename(folder.rstrip("/")) or "root"
        name, number = base, 1
        while name in names.values():
            number += 1
            name = f"{base}-{number}"
        names[folder] = name
    return names


def _upgrade(row: dict[str, Any], folders: dict[str, str]) -> dict[str, Any]:
    path = row["path"]
    folder = max((f for f in folders if _under(path, f)), key=len)
    rel = os.path.relpath(path, folder).replace(os.sep, "/")
    name = folders[folder]
    return {
        **{key: row[key] for key in ("vector", *FORMAT1_FIELDS)},
        "id": row_id(name, rel),
        "root": name,
        "rel_path": rel,
        "content_hash": str(row["id"]),
    }


def _under(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip("/") + "/")
