"""The values ingest's phases hand on: what the scan found, and what the copy, update, encode and prune wrote.

Each phase of :func:`~mmrag_lab.ingestion.pipeline.ingest` takes its inputs and returns one of these (the
plan phase returns the :class:`~mmrag_lab.ingestion.plan.Plan`); the report is made from them once, at the
end (:meth:`~mmrag_lab.ingestion.report.IngestReport.assemble`). Another encode engine returns an
:class:`Encoded` too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from mmrag_lab.ingestion.scan import ScanResult


@dataclass(frozen=True)
class Scanned:
    """The scan phase: the folder's files (of this shard), its root name and what the sidecar matched.

    Attributes:
        scan: Image files found, and image-named entries that cannot be read (``scan.problems``).
        root: The folder's root name in the collection record.
        metadata: The sidecar: ``{file, encoding, rows}``; ``{}`` without one.
        metadata_problems: Sidecar lines left out.
        metadata_unmatched: Sidecar lines naming no image in the folder.
    """

    scan: ScanResult
    root: str
    metadata: dict[str, Any] = field(default_factory=dict)
    metadata_problems: tuple[dict[str, Any], ...] = ()
    metadata_unmatched: tuple[dict[str, Any], ...] = ()

    @property
    def seen(self) -> int:
        return len(self.scan.files) + len(self.scan.problems)


@dataclass(frozen=True)
class Copied:
    """The copy phase: rows that took the stored vector of identical bytes.

    Attributes:
        written: Rows written.
        failed: Rows whose stored twin vanished before it was read: ``{path, reason}``.
        already: Ids that another process had already stored with the same bytes.
    """

    written: int = 0
    failed: tuple[dict[str, str], ...] = ()
    already: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Updated:
    """The update phase: rows whose fields changed (``metadata`` of them, their metadata); vectors stayed."""

    rows: int = 0
    metadata: int = 0


@dataclass(frozen=True)
class Encoded:
    """The encode phase: images through the encoder and rows the store acknowledged.

    Attributes:
        encoded: Images that went through the encoder.
        written: Rows the store acknowledged.
        failed: Files that could not be read or decoded (every name of them): ``{path, reason}``.
        duplicates: Files whose bytes an earlier file of this run had, found while reading: ``{path, same_as}``.
        copies: The rows of those files and the id of the row whose vector they take (written by the copy
            phase after the run).
        already: Ids that another process had already stored with the same bytes.
    """

    encoded: int = 0
    written: int = 0
    failed: tuple[dict[str, str], ...] = ()
    duplicates: tuple[dict[str, str], ...] = ()
    copies: tuple[tuple[dict[str, Any], str], ...] = ()
    already: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Written:
    """What the writing phases returned: the copies (before and after the encode phase), the updates, the
    encode phase and the number of rows pruned."""

    copies: tuple[Copied, ...]
    updated: Updated
    encoded: Encoded
    pruned: int = 0


class Clock:
    """Wall time per phase name; a phase met twice (the copy phase) adds up."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.phases: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            spent = time.perf_counter() - started
            self.phases[name] = round(self.phases.get(name, 0.0) + spent, 3)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started
