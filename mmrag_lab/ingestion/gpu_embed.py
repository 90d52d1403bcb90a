"""The embedding stage with decoding on the GPU: stages that overlap, joined by bounded queues.

::

    reader threads ─▶ byte batches ─▶ decode thread (nvJPEG + resize, own CUDA stream) ─┐
    CPU decode workers (``cpu_share`` of the files, optional) ──────────────────────────┴▶ model ─▶ RowWriter

Each stage works on the next batch while the one after it works on this one, so the rate approaches that
of the slowest stage. Files that nvJPEG cannot take exactly (PNG, CMYK, 12-bit, arithmetic coding, odd
EXIF…) are decoded on the CPU inside the decode thread, file by file; bad files are reported with the same
reasons as the CPU path. ``cpu_share`` hands that fraction of the files to the worker processes of
:mod:`.prepare`, so that CPU and GPU decoding add up when nvJPEG takes multiprocessor time the model needs.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext

import torch
from tqdm.auto import tqdm

from mmrag_lab.config import Config
from mmrag_lab.encoders.base import Encoder
from mmrag_lab.encoders.preprocessing import Preprocessing
from mmrag_lab.errors import ConfigError, ImageLoadError
from mmrag_lab.images import image_size
from mmrag_lab.ingestion.embed import EmbedOptions, default_workers, make_rows, report_failures
from mmrag_lab.ingestion.gpu_decode import prepare_batch
from mmrag_lab.ingestion.prepare import PrepareDataset, PreparedBatch, Task, _read, make_loader
from mmrag_lab.ingestion.report import IngestReport
from mmrag_lab.ingestion.scan import content_id
from mmrag_lab.ingestion.sidecar import Sidecar
from mmrag_lab.ingestion.writer import RowWriter

QUEUE_DEPTH = 3  # batches waiting between two stages: enough to ride out jitter, bounded in memory
READ_THREADS = 8
_DONE = object()


def gpu_embed_and_write(
    tasks: list[Task],
    encoder: Encoder,
    config: Config,
    sidecar: Sidecar,
    report: IngestReport,
    options: EmbedOptions,
) -> None:
    """Like :func:`~mmrag_lab.ingestion.embed.embed_and_write`, decoding on the encoder's device.

    Raises:
        ConfigError: The encoder's preprocessing is not one the GPU path reproduces.
    """
    if not tasks:
        return
    prep, device = _check_preprocessing(encoder), encoder.device
    cut = round(len(tasks) * min(max(options.cpu_share, 0.0), 1.0))
    out: queue.Queue = queue.Queue(maxsize=QUEUE_DEPTH)
    stop = threading.Event()
    producers = []
    if cut:  # the loader forks its workers here, before any thread of ours exists
        workers = default_workers(encoder) if options.workers is None else options.workers
        loader = make_loader(
            PrepareDataset(tasks[:cut], prep), options.batch_size, workers, device.type == "cuda"
        )
        producers.append(threading.Thread(target=_pump, args=(iter(loader), out, stop), daemon=True))
    if cut < len(tasks):
        batches = _gpu_batches(tasks[cut:], options.batch_size, device, prep)
        producers.append(threading.Thread(target=_pump, args=(batches, out, stop), daemon=True))
    writer = RowWriter(config, on_written=lambda n: setattr(report, "ingested", report.ingested + n))
    bar = tqdm(total=len(tasks), desc="ingest", unit="img", disable=not options.progress, dynamic_ncols=True)
    for thread in producers:
        thread.start()
    try:
        running = len(producers)
        while running:
            batch = out.get()
            if batch is _DONE:
                running -= 1
                continue
            if isinstance(batch, BaseException):
                raise batch
            report_failures(report, batch.failed, sidecar)
            if batch.pixels is not None and len(batch.tasks):
                vectors = encoder.encode_pixels(prep.finish(batch.pixels.to(device, non_blocking=True)))
                report.encoded += len(batch.tasks)
                writer.put(make_rows(batch.tasks, vectors, batch.sizes, sidecar))
            bar.update(len(batch.tasks) + len(batch.failed))
            bar.set_postfix(stored=report.ingested, failed=len(report.failed), refresh=False)
    finally:
        stop.set()
        for thread in producers:
            thread.join()
        try:
            writer.close()  # rows still queued are acknowledged here: the bar's last count must include them
        finally:
            bar.set_postfix(stored=report.ingested, failed=len(report.failed))
            bar.close()


def _check_preprocessing(encoder: Encoder) -> Preprocessing:
    prep = encoder.preprocessing
    if not prep.gpu_reproducible():
        raise ConfigError(
            f"GPU decoding reproduces a bicubic shorter-side resize and centre crop only; {encoder.name} "
            f"preprocesses otherwise ({prep.resize}, {prep.interpolation}, crop {prep.crop}). "
            "Ingest without --gpu-decode."
        )
    return prep


def _pump(batches, out: queue.Queue, stop: threading.Event) -> None:
    """Move batches into ``out`` until done or stopped; an error travels as the last item."""
    try:
        for batch in batches:
            if not _put(out, batch, stop):
                return
        _put(out, _DONE, stop)
    except BaseException as exc:  # raised in the consumer, never lost on this thread
        _put(out, exc, stop)


def _put(out: queue.Queue, item, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            out.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _gpu_batches(tasks: list[Task], batch_size: int, device: torch.device, prep: Preprocessing):
    """Yield :class:`PreparedBatch` es with uint8 pixels on ``device``; files are read ahead on threads."""
    stream = torch.cuda.Stream(device) if device.type == "cuda" else None

    with ThreadPoolExecutor(READ_THREADS, thread_name_prefix="mmrag-read") as pool:
        pending: deque = deque()
        chunks = iter(range(0, len(tasks), batch_size))
        for _ in range(QUEUE_DEPTH + 1):
            _submit(pool, pending, chunks, tasks, batch_size)
        while pending:
            chunk, reads = pending.popleft()
            _submit(pool, pending, chunks, tasks, batch_size)
            results = [future.result() for future in reads]
            good = [(task, data) for task, (data, _) in zip(chunk, results) if data is not None]
            failed = [(task, error) for task, (_, error) in zip(chunk, results) if error is not None]
            with torch.cuda.stream(stream) if stream is not None else nullcontext():
                prepared = prepare_batch([d for _, d in good], prep, device)
            if stream is not None:
                stream.synchronize()  # the model runs on another stream: hand over finished pixels only
            sizes = [prepared.sizes.get(i) or image_size(good[i][1]) for i in prepared.ok]
            failed += [(good[i][0], reason) for i, reason in sorted(prepared.errors.items())]
            yield PreparedBatch([good[i][0] for i in prepared.ok], prepared.pixels, sizes, failed)


def _submit(pool, pending: deque, chunks, tasks: list[Task], batch_size: int) -> None:
    start = next(chunks, None)
    if start is not None:
        chunk = tasks[start : start + batch_size]
        pending.append((chunk, [pool.submit(_read_checked, task) for task in chunk]))


def _read_checked(task: Task) -> tuple[bytes | None, str | None]:
    try:
        data = _read(task.file)
        if content_id(data) != task.id:
            raise ImageLoadError(task.file.display, "the file changed while ingesting; run ingest again")
        return data, None
    except ImageLoadError as exc:
        return None, exc.reason


# Embedding agreement of GPU decoding with the CPU path, measured on the clothing photos (BENCHMARKS.md,
# "GPU ingest on one H200"). GPU decoding is the default on CUDA only if the minimum cosine is >= 0.999.
MEASURED_MIN_COSINE: float | None = 0.9982  # 400 photos, H200, 2026-11-30: opt-in (--gpu-decode)


def gpu_decode_default(encoder: Encoder) -> bool:
    """Whether ingest decodes on the GPU when not told: on CUDA, if the measured agreement allows it."""
    agreed = MEASURED_MIN_COSINE is not None and MEASURED_MIN_COSINE >= 0.999
    return agreed and encoder.device.type == "cuda" and encoder.preprocessing.gpu_reproducible()
