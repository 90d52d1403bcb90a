"""The ingest report: what happened to every image, returned and written as JSON.

Every image-named entry found lands in exactly one bucket, so
``seen == ingested + skipped_existing + len(duplicates) + len(failed)``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


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
        ingested: Rows written in this run.
        skipped_existing: Files whose bytes were already stored before this run (not decoded).
        duplicates: Files with the same bytes as another file of this run: ``{path, same_as}``.
        failed: Files that could not be ingested: ``{path, reason}``.
        pruned: Rows deleted by ``prune`` because their file is gone.
        repointed: Rows whose file moved within the folder; ``prune`` updated their path.
        duration_s: Wall time of the whole run.
        images_per_s: ``ingested / duration_s``.
        phases_s: Wall time per phase (scan, hash, encode, prune, flush).
    """

    images_dir: str
    collection: str
    uri: str
    encoder: str
    untrained: bool
    fingerprint: str = ""
    seen: int = 0
    ingested: int = 0
    skipped_existing: int = 0
    duplicates: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    pruned: int = 0
    repointed: int = 0
    duration_s: float = 0.0
    images_per_s: float = 0.0
    phases_s: dict[str, float] = field(default_factory=dict)

    def add_failure(self, path: str, reason: str) -> None:
        self.failed.append({"path": path, "reason": reason})

    def finish(self, duration_s: float) -> None:
        self.duration_s = round(duration_s, 3)
        self.images_per_s = round(self.ingested / duration_s, 2) if duration_s > 0 else 0.0

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
            f"{self.seen} images seen in {self.images_dir}: {self.ingested} ingested, "
            f"{self.skipped_existing} already stored, {len(self.duplicates)} duplicate(s), "
            f"{len(self.failed)} failed",
            f"{self.duration_s:.1f} s, {self.images_per_s:.1f} images/s, encoder {self.encoder}"
            + (" (UNTRAINED weights: vectors carry no meaning)" if self.untrained else ""),
        ]
        if self.pruned or self.repointed:
            lines.append(f"prune: {self.pruned} row(s) deleted, {self.repointed} re-pointed to a moved file")
        lines += [f"  failed: {item['path']}: {item['reason']}" for item in self.failed[:20]]
        if len(self.failed) > 20:
            lines.append(f"  ... and {len(self.failed) - 20} more failures (see the JSON report)")
        return "\n".join(lines)
