"""The ingest runner: one loop composes a reader, a mapper and a writer, with one progress and teardown path.

::

    reader (files → checked bytes) ─▶ mapper (bytes → uint8 pixels: CPU workers or GPU) ─┐  one thread each
    more mappers (``gpu_mappers`` GPU ones, ``cpu_share`` of the files on CPU workers) ───┴▶ staging ─▶ model
        ─▶ landing (vectors back, one batch behind) ─▶ writer (vectors → rows, on its thread) ─▶ the store

Each mapper runs on a thread of its own, feeding a bounded queue, so the model works on one batch while
the next is mapped and the last is written. The loop queues a batch on the device before it waits for the
previous batch's vectors (:mod:`.landing`), so the host makes rows while the device has work queued. The
CPU and GPU paths differ only in their mapper. Every batch reaches the encoder padded to the full batch size
(:mod:`.staging`), and only the real images' vectors become rows.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from types import GeneratorType

from tqdm.auto import tqdm

from mmrag_lab.encoders.base import Encoder
from mmrag_lab.ingestion.cpu_mapper import CpuMapper, default_workers
from mmrag_lab.ingestion.gpu_mapper import GpuMapper
from mmrag_lab.ingestion.landing import InFlight, Landing
from mmrag_lab.ingestion.mapper import PreparedBatch
from mmrag_lab.ingestion.phases import Encoded
from mmrag_lab.ingestion.reader import Task
from mmrag_lab.ingestion.sidecar import Sidecar
from mmrag_lab.ingestion.staging import Staging
from mmrag_lab.ingestion.twins import Twins
from mmrag_lab.ingestion.writer import RowWriter, failures, make_rows
from mmrag_lab.store.vector_store import Store

QUEUE_DEPTH = 3  # batches waiting between a mapper and the model: enough to ride out jitter, bounded
# Images to encode from which ingest on CUDA compiles the model when not told: where the model's speed-up
# has paid back the time a first compile takes (no on-disk cache), rounded up. The measurements and the
# arithmetic are in BENCHMARKS.md (COMPILE_MIN_IMAGES).
COMPILE_MIN_IMAGES = 350_000
# GPU mappers side by side, each on a thread and a CUDA stream of its own: two measured slower than one for
# both base presets (BENCHMARKS.md, "Where the GPU's time goes"), so one it is.
GPU_MAPPERS = 1
_DONE = object()


@dataclass(frozen=True)
class RunOptions:
    """How to run the encode phase.

    Attributes:
        batch_size: Images per encoder batch; every batch the encoder sees has exactly this many.
        workers: Decode processes; None = :func:`~mmrag_lab.ingestion.cpu_mapper.default_workers`, 0 = inline.
        progress: Show a progress bar with images/s.
        fast_decode: Decode JPEGs at a reduced scale (see :class:`~mmrag_lab.ingestion.cpu_mapper.PrepareDataset`).
        gpu_decode: Decode and preprocess on the encoder's device (:class:`~.gpu_mapper.GpuMapper`).
        cpu_share: With ``gpu_decode``, the fraction of the files decoded by CPU workers instead.
        compile: Run the model compiled; None = on CUDA from :data:`COMPILE_MIN_IMAGES` images.
        gpu_mappers: With ``gpu_decode``, GPU mappers working side by side, each on a part of the files.
        compile_mode: ``torch.compile``'s mode when the model is compiled (``Config.compile_mode``).
        cache_dir: Where a compiled model's caches go (``Config.cache_dir``); None = torch's own.
    """

    batch_size: int = 16
    workers: int | None = None
    progress: bool = True
    fast_decode: bool = False
    gpu_decode: bool = False
    cpu_share: float = 0.0
    compile: bool | None = None
    gpu_mappers: int = GPU_MAPPERS
    compile_mode: str = "reduce-overhead"
    cache_dir: str | None = None


def should_compile(encoder: Encoder, images: int, choice: bool | None) -> bool:
    """``choice`` if given; else whether a job of ``images`` images on the encoder's device is large enough."""
    if choice is not None:
        return choice
    return encoder.device.type == "cuda" and images >= COMPILE_MIN_IMAGES


class _Tally:
    """The encode phase's own counts while it runs (the progress bar reads them)."""

    def __init__(self) -> None:
        self.encoded = 0
        self.written = 0
        self.failed: list[dict[str, str]] = []

    def wrote(self, rows: int) -> None:  # on the writer's thread
        self.written += rows


def run_ingest(
    tasks: Sequence[Task],
    encoder: Encoder,
    store: Store,
    sidecar: Sidecar,
    options: RunOptions,
    twins: Twins | None = None,
) -> Encoded:
    """Map ``tasks`` to pixels, embed them in full batches and upsert complete rows into ``store``.

    The rows go to the store through a :class:`RowWriter` thread. Each task fills one row per name its bytes
    have. Bad files are listed in the result's ``failed`` (every name of them); ``encoded`` counts images
    encoded, ``written`` rows the store acknowledged. With ``twins`` (tasks that the plan did not hash), an
    image whose bytes an earlier one had is not encoded: its rows come back in ``copies``, for the caller
    to write, and the file in ``duplicates``.

    Raises:
        ConfigError: GPU decoding was asked for with a preprocessing it does not reproduce.
    """
    if not tasks:
        return Encoded()
    tasks = list(tasks)
    sources = open_mappers(tasks, encoder, options)  # CPU workers fork here, before any thread of ours
    compiled = should_compile(encoder, len(tasks), options.compile)
    staging = Staging(options.batch_size, encoder.image_size, encoder.device, pad=compiled)
    tally = _Tally()
    writer = RowWriter(store, on_written=tally.wrote)
    bar = tqdm(total=len(tasks), desc="ingest", unit="img", disable=not options.progress, dynamic_ncols=True)
    merged, landing = _Merge(sources), Landing()
    in_flight: InFlight | None = None

    def land(flight: InFlight) -> None:
        vectors = landing.land(flight)
        tally.encoded += flight.count
        writer.put(make_rows(flight.batch.tasks, vectors, flight.batch.sizes, sidecar))

    try:
        with encoder.compiled(options.cache_dir, options.compile_mode) if compiled else nullcontext():
            for batch in merged:
                tally.failed += failures(batch.failed, sidecar)
                done = len(batch.tasks) + len(batch.failed)
                batch = twins.keep_first(batch) if twins is not None else batch
                if batch.pixels is not None and batch.tasks:
                    launched = _launch(encoder, staging, landing, batch)
                    if in_flight is not None:  # the device already has the next batch queued
                        land(in_flight)
                    in_flight = launched
                bar.update(done)
                bar.set_postfix(stored=tally.written, failed=len(tally.failed), refresh=False)
            if in_flight is not None:
                land(in_flight)
    finally:
        merged.close()
        try:
            writer.close()  # rows still queued are acknowledged here: the bar's last count must include them
        finally:
            bar.set_postfix(stored=tally.written, failed=len(tally.failed))
            bar.close()
    found = twins if twins is not None else Twins()
    return Encoded(
        tally.encoded,
        tally.written,
        tuple(tally.failed),
        tuple(found.duplicates),
        tuple(found.copies),
        frozenset(writer.already),
    )


def open_mappers(tasks: list[Task], encoder: Encoder, options: RunOptions) -> list[Iterator[PreparedBatch]]:
    """The mappers' batch iterators: CPU workers, or the GPU with ``cpu_share`` of the files on CPU workers."""
    prep, device, size = encoder.preprocessing, encoder.device, options.batch_size
    workers = default_workers(device.type != "cpu") if options.workers is None else options.workers
    if not options.gpu_decode:
        draft = encoder.image_size if options.fast_decode else None
        return [CpuMapper(prep, workers, draft).batches(tasks, size)]
    gpu = GpuMapper(prep, device, encoder.name)
    cut = round(len(tasks) * min(max(options.cpu_share, 0.0), 1.0))
    sources = [CpuMapper(prep, workers).batches(tasks[:cut], size)] if cut else []
    batches = [tasks[start : start + size] for start in range(cut, len(tasks), size)]
    parts = min(max(1, options.gpu_mappers), len(batches))  # batch k goes to mapper k mod parts
    shares = [[task for batch in batches[j::parts] for task in batch] for j in range(parts)]
    return sources + [gpu.batches(share, size) for share in shares]


def _launch(encoder: Encoder, staging: Staging, landing: Landing, batch: PreparedBatch) -> InFlight:
    """Queue the batch on the device; a compiled encoder sees it padded to its full size."""
    pixels = staging.to_device(batch.pixels)
    vectors = encoder.image_vectors(encoder.preprocessing.finish(pixels))
    return landing.launch(batch, vectors, len(batch.tasks), inputs=(batch.pixels, pixels))


class _Merge:
    """Batches of several iterators, each moved by a thread of its own into one bounded queue."""

    def __init__(self, sources: list[Iterator[PreparedBatch]]):
        self._sources = sources
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_DEPTH)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._pump, args=(s,), daemon=True) for s in sources]
        for thread in self._threads:
            thread.start()

    def __iter__(self) -> Iterator[PreparedBatch]:
        running = len(self._threads)
        while running:
            item = self._queue.get()
            if item is _DONE:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item

    def close(self) -> None:
        """Stop the threads and close the iterators (a generator's read threads end with it)."""
        self._stop.set()
        for thread in self._threads:
            thread.join()
        for source in self._sources:
            if isinstance(source, GeneratorType):
                source.close()
        self._sources.clear()

    def _pump(self, batches: Iterator[PreparedBatch]) -> None:
        try:
            for batch in batches:
                if not self._put(batch):
                    return
            self._put(_DONE)
        except BaseException as exc:  # raised in the consumer, never lost on this thread
            self._put(exc)

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False
