"""Ingest a folder of images into Milvus: scan → plan → copy and update → run (read, map, encode, write) → prune.

Re-ingest brings the collection in line with the folder (see :mod:`.plan`): new files are added, changed
bytes re-encoded, renamed files and identical copies take a stored vector, changed metadata updates rows
in place, and with ``prune`` rows of gone files are deleted. Nothing changed means nothing is written.

The pipeline is resumable after ``kill -9`` at any point: each write is one all-or-nothing upsert of
complete rows keyed by the file, and a re-run plans again from what is stored.
``mmrag_lab.ingest(...)`` and ``mmrag ingest`` both run :func:`ingest`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from contextlib import ExitStack, contextmanager

from mmrag_lab import argtypes, checks
from mmrag_lab.config import Config
from mmrag_lab.encoders.base import Encoder
from mmrag_lab.errors import ConfigError
from mmrag_lab.ingestion.encode_loop import RunOptions, run_ingest
from mmrag_lab.ingestion.plan import Plan, plan_ingest
from mmrag_lab.ingestion.report import IngestReport
from mmrag_lab.ingestion.roots import moved_rule
from mmrag_lab.ingestion.scan import display_path, parse_shard, scan_images, shard_scan
from mmrag_lab.ingestion.sidecar import load_sidecar
from mmrag_lab.ingestion.sync import check_prune, drop_superseded, write_copies, write_updates
from mmrag_lab.ingestion.sync import prune as prune_rows
from mmrag_lab.ingestion.twins import Twins
from mmrag_lab.store.clients import display_uri
from mmrag_lab.store.text_fields import parse_columns
from mmrag_lab.store.vector_store import Store

__all__ = ["IngestReport", "ingest"]
MAX_WORKERS = 256
DTYPES = ("auto", "fp32", "float32", "fp16", "float16", "bf16", "bfloat16")


def ingest(
    images_dir: str | os.PathLike,
    *,
    config: Config | None = None,
    encoder: Encoder | None = None,
    metadata: str | os.PathLike | None = None,
    batch_size: int | None = None,
    prune: bool | str = False,
    report_path: str | os.PathLike | None = None,
    workers: int | None = None,
    progress: bool = True,
    collection: str | None = None,
    fast_decode: bool = False,
    dtype: str = "auto",
    gpu_decode: bool | None = None,
    cpu_share: float = 0.0,
    shard: str | tuple[int, int] | None = None,
    compile: bool | None = None,
    replace_metadata: bool = False,
    text_fields: str | Sequence[str] | None = None,
) -> IngestReport:
    """Bring the collection in line with the images under ``images_dir``; safe to re-run at any time.

    Rows are keyed by the folder's name and each file's path relative to it (see :mod:`.plan`), so the
    folder may move: ingest it again from its new place and only the stored paths change.

    Args:
        images_dir: Folder searched recursively for jpg, jpeg, png, webp, bmp, gif and tif(f) files.
        config: Settings (URI, collection, encoder, device); default ``Config.load()``.
        encoder: A loaded encoder; default ``load_encoder(config=config)``.
        metadata: Sidecar CSV or JSON Lines file keyed by file name (see :mod:`mmrag_lab.ingestion.sidecar`);
            its column types go into the collection record. Files it does not name keep their metadata;
            lines it cannot use are named in ``report.metadata_problems``.
        batch_size: Images per encoder batch; default ``config.batch_size``.
        prune: Also delete this folder's rows whose files are gone; refused when that would delete more than
            half of them (an unmounted drive looks like an empty folder), unless ``prune="all"``.
        report_path: Where to write the report as JSON.
        workers: Decode/preprocess processes; default :func:`mmrag_lab.ingestion.cpu_mapper.default_workers`. 0 decodes
            inline.
        progress: Show a progress bar with images/s.
        collection: Collection name; default ``config.collection``.
        fast_decode: Let JPEGs decode at a reduced scale (about 2x faster decoding, slightly different
            pixels than a full decode).
        dtype: Encoder precision when ``encoder`` is None: ``auto`` (fp16 on a GPU, fp32 on a CPU),
            ``fp32``, ``fp16`` or ``bf16``. bf16 on a CPU with AVX512-BF16 is about twice as fast as fp32;
            its vectors differ slightly from fp32 ones.
        gpu_decode: Decode and preprocess JPEGs on the GPU (:mod:`.gpu_mapper`). Opt-in: None, like False,
            decodes on CPU workers (see :mod:`.gpu_mapper` for why).
        cpu_share: With GPU decoding, the fraction of the files decoded by CPU workers instead.
        shard: ``"I/N"`` or ``(I, N)``: ingest only the deterministic I-th of N parts of the folder, so that
            N processes or machines can share one folder and one collection (see docs/features.md).
        compile: Run the model compiled by ``torch.compile`` (eager, said in one line, where that fails);
            None = ``config.compile`` (``MMRAG_COMPILE``), whose ``auto`` compiles on CUDA for jobs of at
            least :data:`~mmrag_lab.ingestion.encode_loop.COMPILE_MIN_IMAGES` images.
        replace_metadata: The sidecar is the whole truth: files it does not name lose their metadata.
        text_fields: Sidecar columns (``"title,caption"``) joined into an analysed text field with a BM25
            function, for ``search(keywords=...)``; kept up to date with the sidecar. Milvus Lite or a
            server >= 2.5 only (see :mod:`mmrag_lab.store.text_fields`).

    Returns:
        The :class:`IngestReport`. Bad files are listed in ``failed``; they never stop the run.

    Raises:
        ConfigError: The folder or the metadata file does not exist, or a setting is wrong.
        TextSearchUnsupportedError: ``text_fields`` on a backend without BM25 (the Milvus 2.3 server).
        SchemaOutdatedError: The collection has the older content-hash keyed schema (run ``mmrag migrate``).
        CollectionMismatchError: The collection holds vectors of another encoder, dimension or metric.
        StoreLockedError: Another process holds the Milvus Lite file.
        StoreError: The store cannot be reached or refuses a write.
    """
    started = time.perf_counter()
    argtypes.instance("config", config, Config, "e.g. Config.load(milvus_uri=...)")
    argtypes.instance("encoder", encoder, Encoder, "from load_encoder(...); a preset's name goes in Config")
    flags = {"progress": progress, "fast_decode": fast_decode, "replace_metadata": replace_metadata}
    for name, value in {**flags, "gpu_decode": gpu_decode, "compile": compile}.items():  # prune: below
        argtypes.flag(name, value, optional=name not in flags)
    argtypes.local_path("metadata (--metadata)", metadata, optional=True)
    argtypes.local_path("report_path (--report)", report_path, optional=True)
    cfg = (config or Config.load()).with_overrides(collection=collection, batch_size=batch_size)
    root = _check_folder(images_dir)
    part = _check_shard(shard, prune)
    _check_options(workers, cpu_share, dtype, report_path, prune)
    if replace_metadata and metadata is None:
        raise ConfigError("--replace-metadata needs --metadata FILE: the sidecar that replaces the metadata.")
    columns = parse_columns("text_fields (--text-fields)", text_fields)
    sidecar = load_sidecar(metadata)
    check_columns(columns, sidecar.types if sidecar.source else None)
    with Store.open(cfg) as probe:  # the URI and the backend are checked before the model loads
        if columns:
            probe.require_text_search("--text-fields")
    if encoder is None:
        from mmrag_lab.encoders import load_encoder, pick_device

        pick_device(cfg.device)
        encoder = load_encoder(config=cfg, dtype=dtype)
    report = IngestReport(
        images_dir=display_path(root),
        collection=cfg.collection,
        uri=display_uri(cfg.milvus_uri),
        encoder=encoder.name,
        untrained=encoder.untrained,
        fingerprint=encoder.info.fingerprint,
    )
    with ExitStack() as writing:
        with Store.open(cfg) as store:
            store.ensure_collection(encoder.info, metadata_types=sidecar.types, text_fields=columns)
            # From the plan to the last write, other writers of this collection can see this one (Store.writing)
            writing.enter_context(store.writing())
            with _phase(report, "scan"):
                scan = scan_images(root)
                report.root = store.register_root(report.images_dir, moved_rule(store, scan))
                _note_sidecar(report, sidecar, [file.rel for file in scan.files])
                scan = shard_scan(scan, part) if part else scan
                report.seen = len(scan.files) + len(scan.problems)
                report.failed.extend(scan.problems)
            with _phase(report, "hash"):
                plan = plan_ingest(
                    scan, store, report.root, sidecar, report, shard=part, replace_metadata=replace_metadata
                )
            if prune:
                check_prune(plan, report, everything=prune == "all")
            with _phase(report, "copy"):
                already = write_copies(store, plan, report)
                drop_superseded(store, plan)
            with _phase(report, "update"):
                write_updates(store, plan, report)
        # Closed while the writer owns the store: a Milvus Lite file admits one process at a time.
        twins = None if plan.hashed else Twins()
        if plan.tasks:
            with _phase(report, "encode"):
                choice = cfg.compile_choice() if compile is None else compile
                options = RunOptions(
                    cfg.batch_size, workers, progress, fast_decode, bool(gpu_decode), cpu_share, choice
                )
                already |= run_ingest(plan.tasks, encoder, cfg, sidecar, report, options, twins)
        if twins is not None and twins.copies:  # identical bytes met while reading: the first is stored
            plan.copies = twins.copies
            with Store.open(cfg) as store, _phase(report, "copy"):
                already |= write_copies(store, plan, report)
        _count(report, plan, already)
        if prune and plan.stale or report.ingested or report.updated:
            with Store.open(cfg) as store:
                if prune:
                    with _phase(report, "prune"):
                        prune_rows(store, plan, report)
                with _phase(report, "flush"):
                    store.flush_and_load()
    report.finish(time.perf_counter() - started)
    if report_path is not None:
        report.write(report_path)
    return report


def check_columns(columns: tuple[str, ...], known: dict[str, str] | None) -> None:
    """Refuse text columns that the sidecar given does not have (none given: they may come later)."""
    missing = [name for name in columns if known is not None and name not in known]
    if missing:
        raise ConfigError(
            f"--text-fields names {', '.join(missing)}, which the sidecar does not have; its columns are "
            f"{', '.join(sorted(known or {})) or '(none)'}."
        )


def _count(report: IngestReport, plan: Plan, already: set[str]) -> None:
    """This run's counts: a row that another process stored first is unchanged here, not added."""
    failed = {item["path"] for item in report.failed}
    paths = {row["id"]: row["path"] for task in plan.tasks for row in task.rows}
    paths.update((row["id"], row["path"]) for row, _ in plan.copies)
    kinds = {key: kind for key, kind in plan.kinds.items() if paths.get(key) not in failed}
    report.written_by_others = sum(key in already for key in kinds)
    report.count_kinds({key: kind for key, kind in kinds.items() if key not in already}, plan.unchanged)
    report.unchanged += report.written_by_others
    report.ingested -= report.written_by_others


def _note_sidecar(report: IngestReport, sidecar, rels: list[str]) -> None:
    if sidecar.source:
        sidecar.prefer_exact(rels)
        report.metadata = {"file": sidecar.source, "encoding": sidecar.encoding, "rows": len(sidecar.entries)}
        report.metadata_problems = list(sidecar.problems)
        report.metadata_unmatched = sidecar.unmatched(rels)


def _check_folder(images_dir: str | os.PathLike) -> bytes:
    root = os.fsencode(argtypes.local_path("images_dir (IMAGES_DIR)", images_dir))
    if not os.path.isdir(root):
        raise ConfigError(f"Image folder {display_path(root)} does not exist or is not a folder.")
    try:
        return os.path.realpath(root)
    except OSError as exc:  # a link on the way whose text may not be read (/proc/PID/cwd of another user)
        raise ConfigError(
            f"Image folder {display_path(root)}: its real place cannot be found ({exc.strerror}); "
            "give the folder's own path."
        ) from None


def _check_options(
    workers: int | None, cpu_share: float, dtype: str, report_path: object, prune: object
) -> None:
    if not any(prune is choice for choice in (False, True)) and prune != "all":
        raise ConfigError(f"prune must be False, True or 'all' (--prune, --prune-all), got {prune!r}.")
    if workers is not None:
        checks.whole_number("workers (--workers)", workers, low=0, high=MAX_WORKERS)
    checks.fraction("cpu_share (--cpu-share)", cpu_share)
    if not isinstance(dtype, str) or dtype.lower() not in DTYPES:
        raise ConfigError(f"dtype (--dtype) must be one of {', '.join(DTYPES)}, got {dtype!r}.")
    if report_path is not None:
        checks.output_file("report_path (--report)", report_path)


def _check_shard(shard: str | tuple[int, int] | None, prune: bool) -> tuple[int, int] | None:
    if shard is None:
        return None
    if prune:
        raise ConfigError("--prune needs the whole folder; run it once without --shard after the shards.")
    try:
        return parse_shard(shard) if isinstance(shard, str) else parse_shard(f"{shard[0]}/{shard[1]}")
    except ValueError as exc:
        raise ConfigError(f"Bad shard: {exc}.") from None


@contextmanager
def _phase(report: IngestReport, name: str):
    started = time.perf_counter()
    try:
        yield
    finally:
        spent = time.perf_counter() - started
        report.phases_s[name] = round(report.phases_s.get(name, 0.0) + spent, 3)
