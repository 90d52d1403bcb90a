"""The Ray engine: the read/decode/encode/write phase of an ingest as a Ray Data pipeline, on one machine or many.

::

    plan's tasks ─▶ read_decode (CPU tasks) ─▶ EncodeActor (GPU actors, fractional GPUs) ─▶ WriteActor
        (writers, each with its own store client) ─▶ one summary per batch ─▶ the driver: report, progress

Everything else of an ingest (scan, plan, copies, updates, prune, flush, report) is the in-process
pipeline's own (:mod:`.pipeline`): :func:`run_ingest_ray` takes the place of
:func:`~mmrag_lab.ingestion.encode_loop.run_ingest` and keeps its contract, so the ids, the counts and the
promises (idempotence, mirroring, resuming, bad files reported) are the same. Decoding and the model run in
different processes, so they never share one interpreter lock. Ray Data streams the batches with
back-pressure, restarts an actor that dies and runs its batch again (the upserts are keyed, so the rows come
out exact). See docs/scale-out.md.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Sequence
from functools import partial

from tqdm.auto import tqdm

from mmrag_lab.config import Config
from mmrag_lab.encoders.base import Encoder
from mmrag_lab.errors import ConfigError, MmragError, StoreFailedError
from mmrag_lab.ingestion.encode_loop import RunOptions, should_compile
from mmrag_lab.ingestion.phases import Encoded
from mmrag_lab.ingestion.ray_session import RayOptions, ray_for_job
from mmrag_lab.ingestion.ray_stages import EncodeActor, RunLedger, WriteActor, model_state, read_decode
from mmrag_lab.ingestion.reader import Task
from mmrag_lab.ingestion.sidecar import Sidecar
from mmrag_lab.ingestion.twins import Twins
from mmrag_lab.ingestion.writer import failures
from mmrag_lab.store.vector_store import Store

READ_BATCH = 64  # files per read task: large enough to amortise a task, small enough to spread the work
# The last run's shape and timings in this process, for benchmarks: Ray's start, the first batch written,
# the actors and GPUs used, and Ray Data's per-stage statistics (where the time went).
last_run: dict = {}


def ray_engine(config: Config, ray_options: RayOptions):
    """The Ray engine as :func:`~mmrag_lab.ingestion.pipeline.encode` calls an engine: a function of the same
    inputs as :func:`~mmrag_lab.ingestion.encode_loop.run_ingest`, for the job's ``config`` and Ray settings."""
    return partial(run_ingest_ray, config=config, ray_options=ray_options)


def run_ingest_ray(
    tasks: Sequence[Task],
    encoder: Encoder,
    store: Store,
    sidecar: Sidecar,
    options: RunOptions,
    twins: Twins | None = None,
    *,
    config: Config,
    ray_options: RayOptions,
) -> Encoded:
    """:func:`~mmrag_lab.ingestion.encode_loop.run_ingest`'s work and contract, run by Ray Data.

    ``store`` is the driver's; each writer opens its own client from ``config``.

    Raises:
        ConfigError: GPU decoding was asked for with a preprocessing it does not reproduce, or a worker
            built other weights than the job's.
        StoreError: A write failed for good (Ray retried it first).
    """
    if not tasks:
        return Encoded()
    if options.gpu_decode and not encoder.preprocessing.gpu_reproducible():
        raise ConfigError(f"GPU decoding cannot reproduce {encoder.name}'s preprocessing. Ingest without it.")
    bar = tqdm(total=len(tasks), desc="ingest", unit="img", disable=not options.progress, dynamic_ncols=True)
    tally = {"encoded": 0, "written": 0, "already": set(), "failed": [], "duplicates": [], "copies": []}
    last_run.clear()
    started, began = time.perf_counter(), time.time()  # began: the job's start, as the actors' clocks read it
    try:
        with ray_for_job(ray_options):
            last_run["ray_start_s"] = round(time.perf_counter() - started, 2)
            job = (list(tasks), encoder, config, sidecar, options, ray_options, twins, began)
            for summary in _summaries(*job):
                last_run.setdefault("first_write_s", round(time.perf_counter() - started, 2))
                _fold(tally, summary, sidecar)
                bar.update(summary["done"])
                bar.set_postfix(stored=tally["written"], failed=len(tally["failed"]), refresh=False)
    finally:
        bar.set_postfix(stored=tally["written"], failed=len(tally["failed"]))
        bar.close()
    return Encoded(
        encoded=tally["encoded"],
        written=tally["written"],
        failed=tuple(tally["failed"]),
        duplicates=tuple(tally["duplicates"]),
        copies=tuple(tally["copies"]),
        already=frozenset(tally["already"]),
    )


def _fold(tally: dict, summary: dict, sidecar: Sidecar) -> None:
    """One writer batch's summary into the job's tally."""
    tally["encoded"] += summary["encoded"]
    tally["written"] += summary["written"]
    tally["already"].update(summary["already"])
    tally["failed"] += failures(summary["failed"], sidecar)
    for task, first, path in summary["twins"]:  # identical bytes met in a first ingest: copied after the run
        for row in task.rows:
            tally["copies"].append((row, first))
            tally["duplicates"].append({"path": row["path"], "same_as": path})


def _summaries(tasks, encoder, config, sidecar, options, ray_options, twins, began):
    """The pipeline's per-batch summaries, as the writers finish them; a stage's failure is raised here."""
    import ray
    import ray.data

    gpus = int(ray.cluster_resources().get("GPU", 0))
    actors = ray_options.actors or (max(1, gpus) * ray_options.actors_per_gpu if gpus else 1)
    batches = -(-len(tasks) // config.batch_size)
    actors = min(actors, batches)  # a small job starts no process it cannot keep busy
    writers = min(ray_options.writers, batches)
    share = min(1.0, gpus / actors) if gpus else 0.0
    last_run.update(actors=actors, gpus=gpus, gpu_share=share, writers=writers)
    compiled = should_compile(encoder, len(tasks), options.compile)
    ledger = ray.remote(RunLedger).options(num_cpus=0).remote()
    state = model_state(encoder)
    state = ray.put(state) if state is not None else None  # the job's exact weights, once per node
    draft = encoder.image_size if options.fast_decode and not options.gpu_decode else None
    items = [{"task": pickle.dumps(task)} for task in tasks]
    blocks = max(1, len(tasks) // READ_BATCH)
    size = config.batch_size
    dataset = (
        ray.data.from_items(items, override_num_blocks=blocks)
        .map_batches(
            partial(
                read_decode, preprocessing=encoder.preprocessing, draft=draft, gpu_decode=options.gpu_decode
            ),
            batch_size=READ_BATCH,
            batch_format="numpy",
            num_cpus=1,
        )
        .map_batches(
            EncodeActor,
            fn_constructor_kwargs=dict(
                config=config,
                dtype=encoder.dtype,
                compiled=compiled,
                fingerprint=encoder.info.fingerprint,
                ledger=ledger if twins is not None else None,
                state=state,
                log=ledger,
                began=began,
            ),
            batch_size=size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_gpus=share,
            num_cpus=1 if share else 0.5,
        )
        .map_batches(
            WriteActor,
            fn_constructor_kwargs=dict(config=config, sidecar=sidecar, ledger=ledger),
            batch_size=size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=writers),
            num_cpus=0,
        )
    )
    last_run["execution_start_s"] = round(time.time() - began, 2)
    try:
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=1):
            for blob in batch["summary"]:
                yield pickle.loads(blob)
        last_run["stats"] = dataset.stats()[:6000]
        last_run["actor_startup_s"] = ray.get(ledger.startup_times.remote())
    except MmragError:
        raise
    except Exception as exc:  # a stage's error, wrapped by Ray
        raise _unwrapped(exc) from None


def _unwrapped(exc: BaseException) -> MmragError:
    """The project's error inside a Ray error (a stage raised it), else a store failure naming Ray's."""
    seen = exc
    for _ in range(8):
        cause = getattr(seen, "cause", None) or seen.__cause__
        if isinstance(cause, MmragError):
            return cause
        if cause is None:
            break
        seen = cause
    first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    return StoreFailedError(f"The Ray pipeline failed: {first[:300]}")
