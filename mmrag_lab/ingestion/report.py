"""The ingest report: what happened to every image, returned and written as JSON.

It is made once, at the end of a run, from the values the phases returned (:meth:`IngestReport.assemble`).

Every image-named entry found lands in exactly one bucket, so
``seen == added + reencoded + renamed + updated + unchanged + len(failed)``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmrag_lab.terminal import printable

if TYPE_CHECKING:
    from mmrag_lab.ingestion.phases import Scanned, Written
    from mmrag_lab.ingestion.plan import Plan


@dataclass(frozen=True)
class ReportHeader:
    """What a report is about: the folder, where its rows went and which encoder made them."""

    images_dir: str
    collection: str
    uri: str
    encoder: str
    untrained: bool
    fingerprint: str = ""


@dataclass
class IngestReport:
    """Counts and lists from one ingest run.

    Attributes:
        images_dir: The folder that was ingested.
        collection: Collection name.
        uri: Store URI (without credentials).
        encoder: Encoder preset name.
        untrained: True when the vectors come from untrained weights (meaningless results).
        fingerprint: Encoder parameter hash recorded in the collection.
        seen: Image files found, plus image-named entries that could not be read.
        added: Rows for paths new to the collection (encoded, or copied from identical stored bytes).
        reencoded: Rows whose file's bytes changed; the new vector replaced the row.
        renamed: Rows for new paths whose bytes were stored under a path that is gone (vector copied).
        updated: Rows whose metadata, path or size changed; the vector stayed.
        metadata_updated: Of ``updated``, the rows whose metadata changed.
        unchanged: Files whose row was already up to date (or was written, the same, by another process
            while this run worked: ``written_by_others``).
        written_by_others: Rows this run wrote that another process had already stored with the same bytes.
        pruned: Rows deleted by ``prune`` because their file is gone.
        encoded: Images that went through the encoder.
        copied: Rows that got the stored vector of identical bytes instead of being encoded.
        ingested: Rows written with a vector in this run (``added + reencoded + renamed``).
        duplicates: Files with the same bytes as another new file of this run (encoded once, one row
            each): ``{path, same_as}``.
        failed: Files that could not be ingested: ``{path, reason}``.
        metadata: The sidecar: ``{file, encoding, rows}`` (rows it gave metadata for); ``{}`` without one.
        metadata_problems: Sidecar lines left out: ``{line (or entry), key, reason}``; the files they name
            keep their metadata.
        metadata_unmatched: Sidecar lines naming no image in the folder: ``{line (or entry), key}``.
        duration_s: Wall time of the whole run.
        images_per_s: ``ingested / duration_s``.
        phases_s: Wall time per phase (scan, hash, copy, update, encode, prune, flush).
    """

    images_dir: str
    collection: str
    uri: str
    encoder: str
    untrained: bool
    fingerprint: str = ""
    root: str = ""
    seen: int = 0
    added: int = 0
    reencoded: int = 0
    renamed: int = 0
    updated: int = 0
    metadata_updated: int = 0
    unchanged: int = 0
    written_by_others: int = 0
    pruned: int = 0
    encoded: int = 0
    copied: int = 0
    ingested: int = 0
    duplicates: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    metadata_problems: list[dict[str, Any]] = field(default_factory=list)
    metadata_unmatched: list[dict[str, Any]] = field(default_factory=list)
    duration_s: float = 0.0
    images_per_s: float = 0.0
    phases_s: dict[str, float] = field(default_factory=dict)

    @classmethod
    def assemble(
        cls,
        header: ReportHeader,
        scanned: Scanned,
        plan: Plan,
        written: Written,
        duration_s: float,
        phases_s: dict[str, float],
    ) -> IngestReport:
        """The report of one run, made once from the values its phases returned.

        A row that another process stored first, with the same bytes, counts as unchanged here, not added.
        """
        copies, encoded = written.copies, written.encoded
        failed = [
            *scanned.scan.problems,
            *plan.failed,
            *(f for c in copies for f in c.failed),
            *encoded.failed,
        ]
        lost = {item["path"] for item in failed}
        paths = {row["id"]: row["path"] for task in plan.tasks for row in task.rows}
        paths.update((row["id"], row["path"]) for row, _ in (*plan.copies, *encoded.copies))
        kinds = {key: kind for key, kind in plan.kinds.items() if paths.get(key) not in lost}
        already = encoded.already.union(*(c.already for c in copies))
        others = sum(key in already for key in kinds)
        stored = [kind for key, kind in kinds.items() if key not in already]
        copied = sum(c.written for c in copies)
        ingested = copied + encoded.written - others
        return cls(
            **asdict(header),
            root=scanned.root,
            seen=scanned.seen,
            added=stored.count("added"),
            reencoded=stored.count("reencoded"),
            renamed=stored.count("renamed"),
            updated=written.updated.rows,
            metadata_updated=written.updated.metadata,
            unchanged=plan.unchanged + others,
            written_by_others=others,
            pruned=written.pruned,
            encoded=encoded.encoded,
            copied=copied,
            ingested=ingested,
            duplicates=[*plan.duplicates, *encoded.duplicates],
            failed=failed,
            metadata=dict(scanned.metadata),
            metadata_problems=list(scanned.metadata_problems),
            metadata_unmatched=list(scanned.metadata_unmatched),
            duration_s=round(duration_s, 3),
            images_per_s=round(ingested / duration_s, 2) if duration_s > 0 else 0.0,
            phases_s=dict(phases_s),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    def to_json(self, indent: int = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def write(self, path: str | os.PathLike) -> Path:
        """Write the report as JSON (parent folders are created)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.to_json() + "\n", encoding="utf-8")
        return target

    def summary(self) -> str:
        """A few human lines for a terminal or a notebook."""
        lines = [
            f"{self.seen} images seen in {self.images_dir}: {self.ingested} ingested ({self.added} added, "
            f"{self.reencoded} re-encoded, {self.renamed} renamed), {self.updated} updated "
            f"({self.metadata_updated} metadata), "
            f"{self.unchanged} unchanged{self._others()}, {self.pruned} pruned, {len(self.failed)} failed",
            f"{self.encoded} encoded, {self.copied} copied from identical stored bytes; "
            f"{self.duration_s:.1f} s, {self.images_per_s:.1f} images/s, encoder {self.encoder}"
            + (" (UNTRAINED weights: vectors carry no meaning)" if self.untrained else ""),
        ]
        lines += [f"  failed: {item['path']}: {item['reason']}" for item in self.failed[:20]]
        if len(self.failed) > 20:
            lines.append(f"  ... and {len(self.failed) - 20} more failures (see the JSON report)")
        return "\n".join(printable(line) for line in lines + self._metadata_lines())  # a name: one line

    def _others(self) -> str:
        return f" ({self.written_by_others} written by another process)" if self.written_by_others else ""

    def _metadata_lines(self, shown: int = 20) -> list[str]:
        if not self.metadata:
            return []
        meta = self.metadata
        lines = [f"metadata from {meta['file']} ({meta['encoding']}): {meta['rows']} files described; lines "
                 f"left out: {len(self.metadata_problems)}; lines naming no image in the folder: "
                 f"{len(self.metadata_unmatched)}"]  # fmt: skip
        for item in self.metadata_problems[:shown]:
            lines.append(f"  left out: {_where(item)}: {item.get('key') or '(no key)'!r}: {item['reason']}")
        for item in self.metadata_unmatched[:shown]:
            lines.append(f"  no such image: {_where(item)}: {item['key']!r}")
        more = max(0, len(self.metadata_problems) - shown) + max(0, len(self.metadata_unmatched) - shown)
        if more:
            lines.append(f"  ... and {more} more metadata lines (see the JSON report)")
        return lines


def _where(item: dict[str, Any]) -> str:
    return f"line {item['line']}" if "line" in item else f"entry {item.get('entry', '?')}"
