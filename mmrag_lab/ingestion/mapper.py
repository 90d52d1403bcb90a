"""The mapper role of the ingest runner: tasks → batches of uint8 pixels, bad files set aside with a reason.

Two mappers implement :class:`Mapper`: :class:`~mmrag_lab.ingestion.cpu_mapper.CpuMapper` (decode worker
processes) and :class:`~mmrag_lab.ingestion.gpu_mapper.GpuMapper` (nvJPEG on the encoder's device). Both
read through :mod:`.reader` and yield :class:`PreparedBatch` es; the runner does the rest.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import torch

from mmrag_lab.ingestion.reader import Task


@dataclass
class PreparedBatch:
    """What a mapper made of a batch: pixels for the good images, reasons for the bad ones.

    Attributes:
        tasks: The good images, in the order of ``pixels``.
        pixels: uint8 ``(len(tasks), 3, S, S)`` on the host or the encoder's device; None if none is good.
        sizes: ``(width, height)`` of each good image as decoded.
        failed: The bad images, each with its reason.
    """

    tasks: list[Task]
    pixels: torch.Tensor | None
    sizes: list[tuple[int, int]]
    failed: list[tuple[Task, str]]


class Mapper(Protocol):
    """Turns tasks into :class:`PreparedBatch` es of at most ``batch_size`` images, in order."""

    def batches(self, tasks: list[Task], batch_size: int) -> Iterator[PreparedBatch]:
        """Start mapping ``tasks``; processes a mapper needs are started here, before any thread."""
        ...
