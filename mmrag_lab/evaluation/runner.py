"""``mmrag_lab.evaluate(...)``: score a query set against a collection, optionally with the LLM reranker."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mmrag_lab.config import Config
from mmrag_lab.encoders.base import Encoder
from mmrag_lab.errors import CollectionMismatchError, EvaluationError
from mmrag_lab.evaluation.aggregate import MAP_KS, MISSING_POLICIES, SUBSET_KS, summarize
from mmrag_lab.evaluation.benchmarks import load_queries
from mmrag_lab.evaluation.costs import check_prices
from mmrag_lab.evaluation.match import match_queries
from mmrag_lab.evaluation.metrics import TIE_POLICIES
from mmrag_lab.evaluation.querysets import ImageIndex, Query
from mmrag_lab.evaluation.rerank_ab import rerank_stage
from mmrag_lab.evaluation.retrieve import encode_all, rank_query, search_all, subset_scores
from mmrag_lab.evaluation.rundir import EvalRun, query_record, write_run


def evaluate(
    queries: str | os.PathLike | Sequence[Query],
    *,
    kind: str | None = None,
    loader_options: Mapping[str, Any] | None = None,
    config: Config | None = None,
    encoder: Encoder | None = None,
    store: Any = None,
    ks: int | Sequence[int] = (1, 5, 10, 50),
    map_ks: Sequence[int] = MAP_KS,
    subset_ks: Sequence[int] = SUBSET_KS,
    rerank: bool = False,
    rerank_top_n: int = 9,
    concurrency: int = 4,
    prices: Mapping[str, float] | None = None,
    exclude_reference: bool = True,
    missing: str = "skip",
    ties: str = "stable",
    out_dir: str | os.PathLike | None = None,
    rerank_options: Mapping[str, Any] | None = None,
    progress: bool = False,
) -> EvalRun:
    """Evaluate retrieval (and reranking) quality of a collection on a query set.

    Args:
        queries: A query file (JSON Lines, CIRR ``cap.rc2.*.json``, a FashionIQ captions folder, CIRCO
            ``val.json`` with ``kind="circo"``) or :class:`Query` objects.
        kind: ``jsonl``, ``cirr``, ``fashioniq`` or ``circo``; default: guessed from the file name.
        loader_options: Extra arguments of the loader (e.g. FashionIQ ``split``, CIRCO ``id_to_name``).
        config: Settings (URI, collection, encoder, LLM); default ``Config.load()``.
        encoder: A loaded encoder; default ``load_encoder(config=config)``. It must be the one that made
            the collection (same fingerprint).
        store: An open :class:`~mmrag_lab.store.collection.Store`; default one opened (and closed) from ``config``.
        ks: K values of Recall@K (one int means just that K).
        map_ks: K values of mAP@K (CIRCO).
        subset_ks: K values of Recall_subset@K (CIRR; computed for queries that have a subset).
        rerank: Also rerank the top ``rerank_top_n`` of every query and score the reranked order.
        rerank_top_n: Candidates shown to the reranker.
        concurrency: Reranker requests in flight at most.
        prices: ``{"input_per_1m": USD, "output_per_1m": USD}`` to estimate the reranker's cost.
        exclude_reference: Leave the query's own image out of its candidates (the benchmarks' protocol).
        missing: ``skip`` or ``miss``: how targets absent from the collection count (see ``summarize``).
        ties: ``stable``, ``optimistic`` or ``pessimistic`` ordering of equal scores.
        out_dir: Write the run folder here (config, encoder, metrics, rankings, tables, plots).
        rerank_options: Extra arguments for :func:`mmrag_lab.reranking.reranker.rerank` (model, base_url, cache_dir...).
        progress: Show progress bars.

    Raises:
        EvaluationError: The query set cannot be read or no query can be evaluated.
        CollectionMismatchError: The encoder is not the one that made the collection.
    """
    started = time.perf_counter()
    cfg = config or Config.load()
    check_prices(prices)
    from_file = isinstance(queries, (str, os.PathLike))
    loaded = load_queries(queries, kind, **(loader_options or {})) if from_file else list(queries)
    ks = [ks] if isinstance(ks, int) else list(ks)
    settings = _settings(ks, map_ks, subset_ks, exclude_reference, missing, ties, rerank, rerank_top_n)
    timing: dict[str, float] = {}
    stage = _retrieval(loaded, cfg, encoder, store, settings, timing, progress)
    matched, retrieved, index = stage["matched"], stage["retrieved"], stage["index"]
    summary_args = {"ks": ks, "map_ks": map_ks, "subset_ks": subset_ks, "missing": missing}
    before = [m.ranked(r.ranking, r.subset) for m, r in zip(matched, retrieved, strict=True)]
    metrics: dict[str, Any] = {"retrieval": summarize(before, **summary_args), "settings": settings}
    records = [
        query_record(m, r, q, [index.path_of(t) for t in m.target_ids])
        for m, r, q in zip(matched, retrieved, before, strict=True)
    ]
    if rerank:
        t0 = time.perf_counter()
        metrics.update(
            rerank_stage(
                matched, retrieved, records, index, top_n=rerank_top_n, concurrency=concurrency, prices=prices,
                summary_args=summary_args, config=cfg, **(rerank_options or {}),
            )
        )  # fmt: skip
        timing["rerank_s"] = time.perf_counter() - t0
    timing["total_s"] = time.perf_counter() - started
    metrics["queries"] = {
        "n_loaded": len(loaded),
        "n_encoded": len(matched),
        "failed_query_images": stage["failed"],
        "match": stage["match"],
    }
    metrics["timing"] = timing
    run = EvalRun(
        out_dir=Path(out_dir) if out_dir else None,
        config={**cfg.public_dict(), "evaluation": settings, "queries": _source(queries)},
        encoder={**stage["encoder"].info.as_dict(), "collection_metric": stage["metric"]},
        metrics=metrics,
        rankings=records,
    )
    if out_dir:
        write_run(run)
    return run


def _retrieval(loaded, cfg: Config, encoder, store, settings: dict, timing: dict, progress: bool) -> dict:
    """Match, encode, search and rank every query; the store is closed again when this opened it."""
    from mmrag_lab.store.collection import Store

    own_store = store is None
    store = store or Store.open(cfg)
    try:
        encoder = encoder or _load_encoder(cfg)
        metric = _check_encoder(store, encoder)
        index = ImageIndex((row["id"], row["path"]) for row in store.iterate(("path",)))
        report = match_queries(loaded, index)
        t0 = time.perf_counter()
        vectors, kept, failed = encode_all(encoder, report.matched, cfg.batch_size, progress)
        timing["encode_s"] = time.perf_counter() - t0
        matched = [report.matched[i] for i in kept]
        if not matched:
            raise EvaluationError(_nothing_to_evaluate(loaded, report.as_dict(), failed))
        t0 = time.perf_counter()
        depth = max(settings["ks"] + settings["map_ks"])
        exclude = settings["exclude_reference"]
        hits = search_all(store, vectors, depth + (1 if exclude else 0))
        subsets = subset_scores(store, metric, vectors, matched)
        timing["search_s"] = time.perf_counter() - t0
    finally:
        if own_store:
            store.close()
    retrieved = [
        rank_query(m, h, s, depth=depth, exclude_reference=exclude, ties=settings["ties"])
        for m, h, s in zip(matched, hits, subsets, strict=True)
    ]
    return {"matched": matched, "retrieved": retrieved, "index": index, "failed": failed,
            "match": report.as_dict(), "encoder": encoder, "metric": metric}  # fmt: skip


def _load_encoder(cfg: Config) -> Encoder:
    from mmrag_lab.encoders import load_encoder

    return load_encoder(config=cfg)


def _check_encoder(store, encoder: Encoder) -> str:
    """The collection's metric, after making sure ``encoder`` made its vectors."""
    from mmrag_lab.store.schema import CollectionRecord

    record = store.record() if store.exists() else None
    if record is None:
        raise EvaluationError(
            f"Collection {store.collection!r} does not exist or was not made by mmrag_lab; ingest the "
            "benchmark's images first (mmrag ingest IMAGES --collection NAME)."
        )
    diff = record.differences(CollectionRecord.for_encoder(encoder.info, record.metric, record.index_type))
    if diff:
        raise CollectionMismatchError(
            f"Collection {store.collection!r} holds vectors from {record.summary()}, but the evaluation "
            f"encoder is {encoder.name!r} (fingerprint {encoder.info.fingerprint}); they differ in "
            f"{', '.join(diff)}. Evaluate with the encoder and weights the collection was made with."
        )
    # A collection reopened from a Milvus Lite file starts released; search and query need it loaded.
    store.load()
    return record.metric


def _settings(ks, map_ks, subset_ks, exclude_reference, missing, ties, rerank, top_n) -> dict:
    for name, values in (("ks", ks), ("map_ks", map_ks), ("subset_ks", subset_ks)):
        if any(int(k) != k or k < 1 for k in values) or (name == "ks" and not values):
            raise EvaluationError(f"{name} must be positive integers (ks at least one), got {list(values)}.")
    if missing not in MISSING_POLICIES:
        raise EvaluationError(f"Unknown missing-target policy {missing!r}; choose one of {MISSING_POLICIES}.")
    if ties not in TIE_POLICIES:
        raise EvaluationError(f"Unknown tie policy {ties!r}; choose one of {TIE_POLICIES}.")
    return {
        "ks": list(ks),
        "map_ks": list(map_ks),
        "subset_ks": list(subset_ks),
        "exclude_reference": exclude_reference,
        "missing": missing,
        "ties": ties,
        "rerank": rerank,
        "rerank_top_n": top_n if rerank else None,
    }


def _source(queries) -> str:
    if isinstance(queries, (str, os.PathLike)):
        return str(queries)
    return f"<{len(queries)} queries given in memory>"


def _nothing_to_evaluate(loaded, match: dict, failed: dict) -> str:
    return (
        f"None of the {len(loaded)} queries can be evaluated: {len(match['unmatched_query_images'])} query "
        f"images match no stored image and no file, {len(failed)} could not be read. Check that the "
        "collection holds the benchmark's images and that the query set names them by file name or path."
    )
