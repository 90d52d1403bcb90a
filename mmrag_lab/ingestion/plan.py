"""Deciding what to ingest before decoding anything, and what to prune afterwards.

Files are named by the hash of their bytes. Bytes already in the store are skipped without decoding,
and bytes seen twice in one run are stored once (the first path in sorted order wins). This is what
makes a re-run after a crash, or after new images arrive, cheap and free of duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mmrag_lab.ingestion.prepare import Task
from mmrag_lab.ingestion.report import IngestReport
from mmrag_lab.ingestion.scan import ImageFile, ScanResult, hash_files
from mmrag_lab.store.collection import Store
from mmrag_lab.store.schema import CORE_FIELDS


@dataclass
class Plan:
    """The images to encode, and what the folder holds now (for pruning).

    Attributes:
        tasks: Files whose bytes are not stored yet, one per content hash.
        paths: Every display path found for each content hash.
        unreadable: Display paths that could not be hashed (their rows are never pruned).
    """

    tasks: list[Task] = field(default_factory=list)
    paths: dict[str, set[str]] = field(default_factory=dict)
    unreadable: set[str] = field(default_factory=set)

    def first_path(self, content_id: str) -> str:
        return min(self.paths[content_id])


def plan_ingest(scan: ScanResult, store: Store, report: IngestReport, threads: int = 4) -> Plan:
    """Hash every scanned file, set duplicates and stored ones aside, and return the rest as tasks."""
    plan = Plan()
    first: dict[str, ImageFile] = {}
    for file, digest in zip(scan.files, hash_files(scan.files, threads), strict=True):
        if isinstance(digest, OSError):
            report.add_failure(file.display, f"cannot read file ({digest.strerror or digest})")
            plan.unreadable.add(file.display)
            continue
        plan.paths.setdefault(digest, set()).add(file.display)
        if digest in first:
            report.duplicates.append({"path": file.display, "same_as": first[digest].display})
        else:
            first[digest] = file
    existing = store.existing_ids(first)
    report.skipped_existing = len(existing)
    plan.tasks = [Task(file, digest) for digest, file in first.items() if digest not in existing]
    return plan


def prune_rows(store: Store, root: str, plan: Plan, report: IngestReport) -> None:
    """Make the rows under ``root`` match the folder.

    A row whose bytes are no longer anywhere in the folder is deleted. A row whose bytes moved to another
    path in the folder is re-pointed to it. Rows outside ``root``, and rows of files that exist but could
    not be read this time, are left alone.
    """
    prefix = root.rstrip("/") + "/"
    stale: list[str] = []
    moved: dict[str, str] = {}
    for row in store.iterate(("path",)):
        path = row["path"]
        if not path.startswith(prefix) or path in plan.unreadable:
            continue
        paths = plan.paths.get(row["id"])
        if paths is None:
            stale.append(row["id"])
        elif path not in paths:
            moved[row["id"]] = min(paths)
    report.pruned = store.delete(stale) if stale else 0
    if moved:
        rows = store.get(moved, output_fields=["vector", *CORE_FIELDS])
        report.repointed = store.insert([{**row, "path": moved[row["id"]]} for row in rows])
