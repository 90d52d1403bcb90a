"""Ingest a folder of images into Milvus: scan → plan → copy and update → run (read, map, encode, write) → prune.

Re-ingest brings the collection in line with the folder (see :mod:`.plan`): new files are added, changed
bytes re-encoded, renamed files and identical copies take a stored vector, changed metadata updates rows
in place, and with ``prune`` rows of gone files are deleted. Nothing changed means nothing is written.

The pipeline is resumable after ``kill -9`` at any point: each write is one all-or-nothing upsert of
complete rows keyed by the file, and a re-run plans again from what is stored.
``mmrag_lab.ingest(...)`` and ``mmrag ingest`` both run :func:`ingest`.

Data flows one way: each phase takes its inputs and returns a value (:mod:`.phases`; the plan is a frozen
:class:`~.plan.Plan`), and the report is made once from those values at the end. One :class:`Store` serves
the whole run. :func:`encode` is the encode phase alone: another engine replaces it with a function of the
same inputs that returns an :class:`~.phases.Encoded`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from mmrag_lab import argtypes, checks
from mmrag_lab.config import Config
from mmrag_lab.deprecation import folded
from mmrag_lab.encoders.base import Encoder
from mmrag_lab.errors import ConfigError
from mmrag_lab.ingestion.encode_loop import RunOptions, run_ingest
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.phases import Clock, Encoded, Scanned, Written
from mmrag_lab.ingestion.plan import Plan, plan_ingest
from mmrag_lab.ingestion.ray_session import RayOptions, check_ray_options
from mmrag_lab.ingestion.report import IngestReport, ReportHeader
from mmrag_lab.ingestion.roots import moved_rule
from mmrag_lab.ingestion.scan import display_path, scan_images, shard_scan
from mmrag_lab.ingestion.sidecar import Sidecar, load_sidecar
from mmrag_lab.ingestion.sync import check_prune, drop_superseded, write_copies, write_updates
from mmrag_lab.ingestion.sync import prune as prune_rows
from mmrag_lab.ingestion.twins import Twins
from mmrag_lab.store.clients import display_uri
from mmrag_lab.store.text_fields import parse_columns
from mmrag_lab.store.vector_store import Store

__all__ = ["IngestOptions", "IngestReport", "encode", "ingest"]


@folded("options", IngestOptions)  # its fields were keywords of ingest: they still are, with a warning
def ingest(
    images_dir: str | os.PathLike,
    *,
    config: Config | None = None,
    encoder: Encoder | None = None,
    metadata: str | os.PathLike | None = None,
    batch_size: int | None = None,
    prune: bool | str = False,
    report_path: str | os.PathLike | None = None,
    progress: bool = True,
    collection: str | None = None,
    replace_metadata: bool = False,
    options: IngestOptions | None = None,
    text_fields: str | Sequence[str] | None = None,
    engine: str = "local",
    ray_address: str | None = None,
    ray_options: RayOptions | None = None,
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
        progress: Show a progress bar with images/s.
        collection: Collection name; default ``config.collection``.
        replace_metadata: The sidecar is the whole truth: files it does not name lose their metadata.
        options: How to decode and compute (workers, GPU decoding, precision, compilation, a shard): an
            :class:`~mmrag_lab.ingestion.options.IngestOptions`; default ``IngestOptions()``. Its fields
            were keywords of ``ingest`` and still are for one release, with a ``DeprecationWarning``.
        text_fields: Sidecar columns (``"title,caption"``) joined into an analysed text field with a BM25
            function, for ``search(keywords=...)``; kept up to date with the sidecar. Milvus Lite or a
            server >= 2.5 only (see :mod:`mmrag_lab.store.text_fields`).
        engine: ``local`` (this process: the default, best for small jobs) or ``ray`` (Ray Data: decoding,
            GPU actors and writers in processes of their own, on this machine or a cluster; see
            :mod:`.ray_engine` and docs/scale-out.md). Both write the same rows.
        ray_address: With ``engine="ray"``: None starts a local Ray for the job; ``auto`` or
            ``ray://host:port`` joins a running cluster.
        ray_options: With ``engine="ray"``: actors, writers, CPUs and GPUs (:class:`.ray_session.RayOptions`).

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
    clock = Clock()
    options = _check_arguments(
        config, encoder, progress, replace_metadata, metadata, report_path, prune, options
    )
    cfg = (config or Config.load()).with_overrides(collection=collection, batch_size=batch_size)
    root = _check_folder(images_dir)
    engine_run = _engine(cfg, engine, ray_address, ray_options)
    columns = parse_columns("text_fields (--text-fields)", text_fields)
    sidecar = load_sidecar(metadata)
    check_columns(columns, sidecar.types if sidecar.source else None)
    # The one store of this run, passed to every phase (the row writer's thread included). It is opened
    # before the model loads, so that a wrong URI or an unreachable backend is said at once. The decode worker
    # processes forked later only decode; they never use it.
    with Store.open(cfg) as store:
        if columns:
            store.require_text_search("--text-fields")
        if encoder is None:
            encoder = _load_encoder(cfg, options.dtype)
        header = ReportHeader(display_path(root), cfg.collection, display_uri(cfg.milvus_uri), encoder.name,
                              encoder.untrained, encoder.info.fingerprint)  # fmt: skip
        store.ensure_collection(encoder.info, metadata_types=sidecar.types, text_fields=columns)
        # From the plan to the last write, other writers of this collection can see this one (Store.writing)
        with store.writing():
            with clock.phase("scan"):
                scanned = scan_folder(store, root, header.images_dir, sidecar, options.part)
            with clock.phase("hash"):
                plan = plan_ingest(scanned.scan, store, scanned.root, sidecar, shard=options.part,
                                   replace_metadata=replace_metadata)  # fmt: skip
            if prune:
                check_prune(plan, header.images_dir, everything=prune == "all")
            run = _run_options(cfg, options, progress)
            written = _write(store, plan, encoder, sidecar, run, bool(prune), clock, engine_run)
    report = IngestReport.assemble(header, scanned, plan, written, clock.elapsed(), clock.phases)
    if report_path is not None:
        report.write(report_path)
    return report


def scan_folder(
    store: Store, root: bytes, images_dir: str, sidecar: Sidecar, part: tuple[int, int] | None
) -> Scanned:
    """The scan phase: the folder's images (of shard ``part``), its root name in the collection record (a
    moved folder keeps its name) and what the sidecar says of them."""
    scan = scan_images(root)
    name = store.register_root(images_dir, moved_rule(store, scan))
    rels = [file.rel for file in scan.files]
    about: dict = {}
    if sidecar.source:
        sidecar.prefer_exact(rels)
        about = {
            "metadata": {"file": sidecar.source, "encoding": sidecar.encoding, "rows": len(sidecar.entries)},
            "metadata_problems": tuple(sidecar.problems),
            "metadata_unmatched": tuple(sidecar.unmatched(rels)),
        }
    return Scanned(shard_scan(scan, part) if part else scan, name, **about)


def encode(
    plan: Plan, encoder: Encoder, store: Store, sidecar: Sidecar, options: RunOptions, engine=None
) -> Encoded:
    """The encode phase: the plan's tasks read, decoded, encoded and written to ``store`` as complete rows.

    A first ingest's plan hashed nothing: identical bytes are found as they are read, encoded once, and the
    rows of the later files come back in ``Encoded.copies`` for the copy phase. Another engine takes the
    same inputs and returns an :class:`~.phases.Encoded`.
    """
    run = engine or run_ingest  # the in-process engine, or another's function of the same inputs
    return run(plan.tasks, encoder, store, sidecar, options, None if plan.hashed else Twins())


def _write(
    store: Store,
    plan: Plan,
    encoder: Encoder,
    sidecar: Sidecar,
    run: RunOptions,
    prune: bool,
    clock: Clock,
    engine=None,
) -> Written:
    """The writing phases, in order: copy, update, encode, copy (a first ingest's twins), prune, flush."""
    with clock.phase("copy"):
        copies = (write_copies(store, plan.copies),)
        drop_superseded(store, plan)
    with clock.phase("update"):
        updated = write_updates(store, plan)
    encoded = Encoded()
    if plan.tasks:
        with clock.phase("encode"):
            encoded = encode(plan, encoder, store, sidecar, run, engine)
    if encoded.copies:  # identical bytes met while reading: the first is stored, the others copy it
        with clock.phase("copy"):
            copies += (write_copies(store, encoded.copies),)
    pruned = 0
    if prune and plan.stale:
        with clock.phase("prune"):
            pruned = prune_rows(store, plan)
    if pruned or updated.rows or encoded.written or any(copy.written for copy in copies):
        with clock.phase("flush"):
            store.flush_and_load()
    return Written(copies, updated, encoded, pruned)


def _run_options(cfg: Config, options: IngestOptions, progress: bool) -> RunOptions:
    choice = cfg.compile_choice() if options.compile is None else options.compile
    return RunOptions(
        batch_size=cfg.batch_size,
        workers=options.workers,
        progress=progress,
        fast_decode=options.fast_decode,
        gpu_decode=bool(options.gpu_decode),
        cpu_share=options.cpu_share,
        compile=choice,
        compile_mode=cfg.compile_mode,
        cache_dir=cfg.cache_dir,
    )


def _engine(cfg: Config, engine: str, address: str | None, options: RayOptions | None):
    """The encode engine: None for the in-process one, else the Ray engine's function (bad options refused
    before any work)."""
    if not isinstance(engine, str):
        raise ConfigError(f"engine (--engine) must be 'local' or 'ray', got {engine!r}.")
    if address is not None:
        if options is not None and options.address not in (None, address):
            raise ConfigError("ray_address and ray_options.address disagree; give one of them.")
        options = RayOptions(**{**(options or RayOptions()).__dict__, "address": address})
    check_ray_options(engine, options)
    if engine != "ray":
        return None
    from mmrag_lab.ingestion.ray_engine import ray_engine

    return ray_engine(cfg, options or RayOptions())


def _load_encoder(cfg: Config, dtype: str) -> Encoder:
    from mmrag_lab.encoders import load_encoder, pick_device

    pick_device(cfg.device)
    return load_encoder(config=cfg, dtype=dtype)


def _check_arguments(
    config: object,
    encoder: object,
    progress: object,
    replace_metadata: object,
    metadata: object,
    report_path: object,
    prune: object,
    options: object,
) -> IngestOptions:
    """Every argument but the folder checked before anything is opened; returns the options to use."""
    argtypes.instance("config", config, Config, "e.g. Config.load(milvus_uri=...)")
    argtypes.instance("encoder", encoder, Encoder, "from load_encoder(...); a preset's name goes in Config")
    argtypes.flag("progress", progress)
    argtypes.flag("replace_metadata", replace_metadata)
    argtypes.instance("options", options, IngestOptions, "e.g. IngestOptions(workers=0)")
    options = options or IngestOptions()
    argtypes.local_path("metadata (--metadata)", metadata, optional=True)
    argtypes.local_path("report_path (--report)", report_path, optional=True)
    if not any(prune is choice for choice in (False, True)) and prune != "all":
        raise ConfigError(f"prune must be False, True or 'all' (--prune, --prune-all), got {prune!r}.")
    if prune and options.shard is not None:
        raise ConfigError("--prune needs the whole folder; run it once without --shard after the shards.")
    if report_path is not None:
        checks.output_file("report_path (--report)", report_path)
    if replace_metadata and metadata is None:
        raise ConfigError("--replace-metadata needs --metadata FILE: the sidecar that replaces the metadata.")
    return options


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


def check_columns(columns: tuple[str, ...], known: dict[str, str] | None) -> None:
    """Refuse text columns that the sidecar given does not have (none given: they may come later)."""
    missing = [name for name in columns if known is not None and name not in known]
    if missing:
        raise ConfigError(
            f"--text-fields names {', '.join(missing)}, which the sidecar does not have; its columns are "
            f"{', '.join(sorted(known or {})) or '(none)'}."
        )
