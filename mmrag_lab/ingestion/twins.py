"""Identical bytes met while reading: in a first ingest, the second file with the same bytes is not encoded.

A plan that hashed the files (every ingest into a collection that holds rows) encodes identical bytes
once, one task per hash. A first ingest into an empty collection hashes as it reads (see
:mod:`.reader`), so only the runner learns which files share their bytes, as their batches arrive.
:class:`Twins` keeps the first image of each hash in the batch and takes the others out before the model
runs; after the run their rows get the first one's stored vector (:func:`~.sync.write_copies`). The
report is the same as a hashed plan's: each later file is a duplicate of the first, encoded once.
:class:`Twins` is the encode phase's own state: what it found goes out in its
:class:`~mmrag_lab.ingestion.phases.Encoded` value.
"""

from __future__ import annotations

from typing import Any

import torch

from mmrag_lab.ingestion.mapper import PreparedBatch


class Twins:
    """The first row id per content hash met so far, and the rows that will copy its vector."""

    def __init__(self) -> None:
        self.first: dict[str, tuple[str, str]] = {}  # hash -> (row id, display path)
        self.copies: list[tuple[dict[str, Any], str]] = []
        self.duplicates: list[dict[str, str]] = []

    def keep_first(self, batch: PreparedBatch) -> PreparedBatch:
        """``batch`` without the images whose bytes an earlier image of this run had; each of those is
        noted in :attr:`duplicates` and queued in :attr:`copies`."""
        keep: list[int] = []
        for index, task in enumerate(batch.tasks):
            if not task.rows:  # a task made without a plan (benchmarks): its own row
                keep.append(index)
                continue
            first = self.first.setdefault(task.id, (task.rows[0]["id"], task.file.display))
            if first[0] == task.rows[0]["id"]:
                keep.append(index)
                continue
            for row in task.rows:
                self.copies.append((row, first[0]))
                self.duplicates.append({"path": row["path"], "same_as": first[1]})
        if len(keep) == len(batch.tasks):
            return batch
        pixels = None
        if keep and batch.pixels is not None:
            pixels = batch.pixels.index_select(0, torch.tensor(keep, device=batch.pixels.device))
        return PreparedBatch(
            [batch.tasks[i] for i in keep], pixels, [batch.sizes[i] for i in keep], batch.failed
        )
