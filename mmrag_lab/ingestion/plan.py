"""Deciding what each file needs before decoding anything: nothing, new fields, a stored vector, or encoding.

A row is one file, keyed by :func:`~mmrag_lab.store.schema.row_id` of the folder's root name and the
file's relative path; its bytes are named by their sha256 (``content_hash``). Against the rows stored
for this folder, each file on disk is:

- *unchanged*: same id, same bytes, same path, size and metadata: nothing is written;
- *updated*: same id and bytes, but its metadata (or its folder's location) changed: those fields only;
- *re-encoded*: same id, new bytes: a new vector replaces the row;
- *renamed*: a new id whose bytes are stored under a path that is gone: the stored vector is copied;
- *added*: a new id; its vector is copied when identical bytes are stored anywhere in the collection,
  else it is encoded. Identical bytes under several new names are encoded once, one row per name.

A first ingest into an empty collection compares nothing, so its plan hashes nothing: every file is *added*,
its task carries no hash, and the bytes are hashed as they are read (:mod:`.reader`); identical bytes are
then found by the runner (:mod:`.twins`), still encoded once. That saves a whole pass over the files before
the first batch.

Rows of this folder whose file is gone are pruned (only with ``prune``); rows of files or folders that
could not be read this time are kept.

Metadata: a file that the sidecar names gets the sidecar's metadata; every other file keeps the metadata
it has (a renamed file takes its old row's), so a sidecar that lists some files never erases the others'.
With ``replace_metadata`` the sidecar is the whole truth: a file it does not name gets no metadata.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

from mmrag_lab.ingestion.reader import Task
from mmrag_lab.ingestion.roots import orphans
from mmrag_lab.ingestion.scan import (
    FileStamp,
    ImageFile,
    ScanResult,
    hash_files_stamped,
    hash_threads,
    in_shard,
)
from mmrag_lab.ingestion.sidecar import Sidecar
from mmrag_lab.store.schema import row_id
from mmrag_lab.store.vector_store import Store

UPDATABLE = ("path", "file_size", "meta")
STORED_FIELDS = ("content_hash", "path", "rel_path", "file_size", "meta")


@dataclass(frozen=True)
class Plan:
    """What to write, by kind of change; made once by :func:`plan_ingest` and never changed.

    Attributes:
        root: The folder's root name (the first part of every row id).
        tasks: Images to encode, one per new content hash; each carries the rows it will fill.
        copies: Row (without vector, width and height) and the id of a stored row with the same bytes.
        updates: Row id to the fields that changed.
        kinds: Row id to ``added``, ``reencoded`` or ``renamed`` for every row that gets a vector.
        unchanged: Files whose row is already up to date.
        stale: Ids of this folder's rows whose file is gone (pruned with ``prune``).
        stored: How many rows this folder had (the share that ``stale`` would prune is checked).
        superseded: Ids of rows stored under another name for files of this folder (see :mod:`.roots`):
            deleted once the rows that replace them are written.
        hashed: False for a first ingest into an empty collection: the tasks are hashed as they are read.
        failed: Files that could not be read to be hashed: ``{path, reason}``.
        duplicates: Files with the same bytes as another new file (encoded once): ``{path, same_as}``.
    """

    root: str
    tasks: tuple[Task, ...] = ()
    copies: tuple[tuple[dict[str, Any], str], ...] = ()
    updates: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    kinds: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    unchanged: int = 0
    stale: tuple[str, ...] = ()
    stored: int = 0
    superseded: tuple[str, ...] = ()
    hashed: bool = True
    failed: tuple[dict[str, str], ...] = ()
    duplicates: tuple[dict[str, str], ...] = ()


class _Hashed(NamedTuple):
    """The scanned files that could be hashed, as rows to want, and those that could not."""

    wanted: list[dict[str, Any]]
    files: dict[str, ImageFile]
    stamps: dict[str, FileStamp]
    unreadable: set[str]
    failed: list[dict[str, str]]


@dataclass
class _Decisions:
    """What :func:`_decide` works out row by row, before it becomes a frozen :class:`Plan`."""

    tasks: dict[str, Task] = field(default_factory=dict)
    copies: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    updates: dict[str, dict[str, Any]] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    superseded: list[str] = field(default_factory=list)
    duplicates: list[dict[str, str]] = field(default_factory=list)
    unchanged: int = 0


def plan_ingest(
    scan: ScanResult,
    store: Store,
    root: str,
    sidecar: Sidecar,
    threads: int | None = None,
    shard: tuple[int, int] | None = None,
    replace_metadata: bool = False,
) -> Plan:
    """Hash every scanned file and compare it with the rows stored for the folder named ``root``.

    An empty collection is not compared with: nothing is hashed, and every file is a task to encode
    (``plan.hashed`` is False). With ``shard``, ``scan`` holds that shard's files, and only that shard's
    stored rows are compared: the rows of other shards are neither gone nor renamed here.
    """
    # the store answers while we hash; both questions at once (a server makes each consistent read wait)
    with ThreadPoolExecutor(2, thread_name_prefix="mmrag-plan") as pool:
        counted = pool.submit(store.count)
        asked = pool.submit(store.rows_under, root, STORED_FIELDS)
        if counted.result() == 0:
            return _first_ingest(root, scan, sidecar)
        hashes = hash_files_stamped(scan.files, threads or hash_threads())
        stored, count = asked.result(), counted.result()
    hashed = _hash_rows(root, scan, hashes, sidecar)
    if shard is not None:
        stored = {key: row for key, row in stored.items() if in_shard(row["rel_path"], shard)}
    gone = {key: row for key, row in stored.items() if key not in hashed.files}
    sources = _vector_sources(store, hashed.wanted, stored, gone, others=count > len(stored))
    new = [row for row in hashed.wanted if row["id"] not in stored]
    claimed = orphans(store, root, new) if new and count > len(stored) else {}
    decided = _decide(hashed, stored, gone, sources, claimed, sidecar, replace_metadata)
    return Plan(
        root,
        tasks=tuple(decided.tasks.values()),
        copies=tuple(decided.copies),
        updates=MappingProxyType(decided.updates),
        kinds=MappingProxyType(decided.kinds),
        unchanged=decided.unchanged,
        stale=_stale(gone, hashed.unreadable, scan),
        stored=len(stored),
        superseded=tuple(decided.superseded),
        failed=tuple(hashed.failed),
        duplicates=tuple(decided.duplicates),
    )


def _hash_rows(root: str, scan: ScanResult, hashes: list, sidecar: Sidecar) -> _Hashed:
    hashed = _Hashed([], {}, {}, set(), [])
    for file, result in zip(scan.files, hashes, strict=True):
        if isinstance(result, OSError):
            hashed.failed.append(
                {"path": file.display, "reason": f"cannot read file ({result.strerror or result})"}
            )
            hashed.unreadable.add(file.rel)
            continue
        digest, hashed.stamps[file.rel] = result
        row = partial_row(root, file, digest, sidecar.lookup(file.rel))
        hashed.wanted.append(row)
        hashed.files[row["id"]] = file
    return hashed


def _stale(gone: dict[str, dict], unreadable: set[str], scan: ScanResult) -> tuple[str, ...]:
    """Gone rows to prune: not those of files that could not be read, nor of entries the scan could not
    list (a folder it could not open may still hold them)."""
    prefix = scan.root.rstrip("/") + "/"
    blocked = [problem["path"].removeprefix(prefix) for problem in scan.problems]  # never pruned
    return tuple(
        key
        for key, row in gone.items()
        if row["rel_path"] not in unreadable and not any(_within(row["rel_path"], b) for b in blocked)
    )


def _decide(
    hashed: _Hashed,
    stored: dict[str, dict],
    gone: dict[str, dict],
    sources: dict[str, str],
    claimed: dict[str, dict],
    sidecar: Sidecar,
    replace_metadata: bool,
) -> _Decisions:
    """Each wanted row: unchanged, updated, or given a vector (copied from ``sources`` or encoded)."""
    decided = _Decisions()
    renamed_meta = {row["content_hash"]: row.get("meta") or {} for row in gone.values()}
    for row in hashed.wanted:
        old = stored.get(row["id"])
        keep_meta = not sidecar.source or (not replace_metadata and sidecar.match(row["rel_path"]) is None)
        if old is not None and keep_meta:
            row["meta"] = old.get("meta") or {}
        if old is not None and old["content_hash"] == row["content_hash"]:
            changed = {name: row[name] for name in UPDATABLE if old.get(name) != row[name]}
            if changed:
                decided.updates[row["id"]] = changed
            else:
                decided.unchanged += 1
            continue
        digest = row["content_hash"]
        orphan = claimed.get(row["path"])
        kind = "reencoded" if old else "renamed" if digest in renamed_meta else "added"
        if orphan is not None:  # this very file, stored under a name whose folder no longer holds it
            decided.superseded.append(str(orphan["id"]))
            kind = "renamed" if orphan["content_hash"] == digest else "reencoded"
            if keep_meta:
                row["meta"] = orphan.get("meta") or {}
        elif kind == "renamed" and keep_meta:  # the metadata moves with the file
            row["meta"] = renamed_meta[digest]
        decided.kinds[row["id"]] = kind
        _give_vector(decided, row, sources, hashed)
    return decided


def _give_vector(decided: _Decisions, row: dict[str, Any], sources: dict[str, str], hashed: _Hashed) -> None:
    """A stored vector of the same bytes, or a task to encode (one per content hash, one row per name)."""
    digest = row["content_hash"]
    if digest in sources:
        decided.copies.append((row, sources[digest]))
    elif digest in decided.tasks:
        task = decided.tasks[digest]
        decided.tasks[digest] = Task(task.file, digest, (*task.rows, row), task.stamp)
        decided.duplicates.append({"path": row["path"], "same_as": task.file.display})
    else:
        file = hashed.files[row["id"]]
        decided.tasks[digest] = Task(file, digest, (row,), hashed.stamps[file.rel])


def _first_ingest(root: str, scan: ScanResult, sidecar: Sidecar) -> Plan:
    """Every file added, one task each, hashed when it is read."""
    rows = [partial_row(root, file, None, sidecar.lookup(file.rel)) for file in scan.files]
    return Plan(
        root,
        tasks=tuple(Task(file, None, (row,)) for file, row in zip(scan.files, rows, strict=True)),
        kinds=MappingProxyType({row["id"]: "added" for row in rows}),
        hashed=False,
    )


def partial_row(root: str, file: ImageFile, digest: str | None, meta: dict[str, Any]) -> dict[str, Any]:
    """Every field of a file's row except ``vector``, ``width`` and ``height``."""
    return {
        "id": row_id(root, file.rel),
        "path": file.display,
        "root": root,
        "rel_path": file.rel,
        "content_hash": digest,
        "file_size": file.size,
        "meta": meta,
    }


def _within(rel_path: str, blocked: str) -> bool:
    return rel_path == blocked or rel_path.startswith(blocked.rstrip("/") + "/")


def _vector_sources(
    store: Store, wanted: list[dict], stored: dict[str, dict], gone: dict[str, dict], others: bool
) -> dict[str, str]:
    """Content hash to the id of a stored row holding those bytes (rows of gone files first).

    Rows of other folders are asked for only when there are any: a query of thousands of hashes costs a
    server seconds even on an empty collection.
    """
    needed = {
        row["content_hash"]
        for row in wanted
        if stored.get(row["id"], {}).get("content_hash") != row["content_hash"]
    }
    sources: dict[str, str] = {}
    for key, row in [*gone.items(), *stored.items()]:
        if row["content_hash"] in needed:
            sources.setdefault(row["content_hash"], key)
    elsewhere = needed - set(sources)
    if elsewhere and others:
        for row in store.rows_with_hashes(elsewhere):
            sources.setdefault(row["content_hash"], str(row["id"]))
    return sources
