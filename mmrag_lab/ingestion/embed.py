"""The embedding stage of ingest: prepared batches → encoder → complete rows → writer thread."""

from __future__ import annotations

import os
from dataclasses import dataclass

from tqdm.auto import tqdm

from mmrag_lab.config import Config
from mmrag_lab.encoders.base import Encoder
from mmrag_lab.ingestion.plan import partial_row
from mmrag_lab.ingestion.prepare import PrepareDataset, Task, make_loader
from mmrag_lab.ingestion.report import IngestReport
from mmrag_lab.ingestion.sidecar import Sidecar
from mmrag_lab.ingestion.writer import RowWriter


@dataclass(frozen=True)
class EmbedOptions:
    """How to run the stage.

    Attributes:
        batch_size: Images per encoder batch.
        workers: Decode processes; None = :func:`default_workers`, 0 = decode inline.
        progress: Show a progress bar with images/s.
        fast_decode: Decode JPEGs at a reduced scale (see :class:`~mmrag_lab.ingestion.prepare.PrepareDataset`).
        gpu_decode: Decode and preprocess on the encoder's device (see :mod:`.gpu_embed`).
        cpu_share: With ``gpu_decode``, the fraction of the files decoded by CPU workers instead.
    """

    batch_size: int = 16
    workers: int | None = None
    progress: bool = True
    fast_decode: bool = False
    gpu_decode: bool = False
    cpu_share: float = 0.0


def default_workers(encoder: Encoder) -> int:
    """Decode processes: on a GPU all cores but two; on a CPU half the cores (the encoder needs the rest)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    on_gpu = encoder.device.type != "cpu"
    return max(1, min(32, cores - 2)) if on_gpu else max(1, cores // 2)


def embed_and_write(
    tasks: list[Task],
    encoder: Encoder,
    config: Config,
    sidecar: Sidecar,
    report: IngestReport,
    options: EmbedOptions,
) -> None:
    """Prepare ``tasks`` in worker processes, embed them in batches and upsert complete rows.

    The rows go to the collection named by ``config`` through a :class:`RowWriter` thread.

    Each task fills one row per name its bytes have. Bad files go to ``report.failed`` (every name of
    them); ``report.encoded`` counts images encoded, ``report.ingested`` rows the store acknowledged.
    """
    if not tasks:
        return
    workers = default_workers(encoder) if options.workers is None else options.workers
    draft = encoder.image_size if options.fast_decode else None
    batch_size, progress = options.batch_size, options.progress
    prep, device = encoder.preprocessing, encoder.device
    loader = make_loader(
        PrepareDataset(tasks, prep, draft), batch_size, workers, pin_memory=device.type == "cuda"
    )
    batches = iter(loader)  # forks the decode workers before the writer thread starts
    writer = RowWriter(config, on_written=lambda n: setattr(report, "ingested", report.ingested + n))
    bar = tqdm(total=len(tasks), desc="ingest", unit="img", disable=not progress, dynamic_ncols=True)
    try:
        for batch in batches:
            report_failures(report, batch.failed, sidecar)
            if batch.pixels is not None:
                vectors = encoder.encode_pixels(prep.finish(batch.pixels.to(device, non_blocking=True)))
                report.encoded += len(batch.tasks)
                writer.put(make_rows(batch.tasks, vectors, batch.sizes, sidecar))
            bar.update(len(batch.tasks) + len(batch.failed))
            bar.set_postfix(stored=report.ingested, failed=len(report.failed), refresh=False)
    finally:
        try:
            writer.close()  # rows still queued are acknowledged here: the bar's last count must include them
        finally:
            bar.set_postfix(stored=report.ingested, failed=len(report.failed))
            bar.close()


def report_failures(report: IngestReport, failed: list[tuple[Task, str]], sidecar: Sidecar) -> None:
    """Every name of each bad file goes to ``report.failed`` with the reason."""
    for task, reason in failed:
        for partial in _partials(task, sidecar):
            report.add_failure(partial["path"], reason)


def make_rows(tasks: list[Task], vectors, sizes: list[tuple[int, int]], sidecar: Sidecar) -> list[dict]:
    """Complete rows for encoded tasks: one per path that holds the task's bytes."""
    return [
        _row(partial, v, s) for t, v, s in zip(tasks, vectors, sizes) for partial in _partials(t, sidecar)
    ]


def _row(partial: dict, vector, size: tuple[int, int]) -> dict:
    return {**partial, "vector": vector, "width": int(size[0]), "height": int(size[1])}


def _partials(task: Task, sidecar: Sidecar) -> tuple[dict, ...]:
    if task.rows:
        return task.rows
    # A task made without a plan (benchmarks): one row, keyed under the nameless root.
    return (partial_row("", task.file, task.id, sidecar.lookup(task.file.rel)),)
