"""The retrieval stage of an evaluation run: check the collection, read its vectors, match, encode and rank
the queries (the steps are in :mod:`.ranking`); returns a :class:`RetrievalResult`."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmrag_lab.config import Config
from mmrag_lab.encoders.base import Encoder
from mmrag_lab.errors import EvaluationError
from mmrag_lab.evaluation.inputs.match import MatchedQuery, MatchReport, match_queries
from mmrag_lab.evaluation.inputs.querysets import ImageIndex, Query
from mmrag_lab.evaluation.records.runparts import Timings
from mmrag_lab.evaluation.records.submission import SUBMISSION_DEPTH
from mmrag_lab.evaluation.running.exact import VectorTable, index_recall
from mmrag_lab.evaluation.running.feedback_eval import hybrid_hits
from mmrag_lab.evaluation.running.ranking import (
    Retrieved,
    ann_search,
    encode_all,
    pool_rows,
    rank_query,
    subset_scores,
)


@dataclass(frozen=True)
class RetrievalResult:
    """What the retrieval stage found.

    Attributes:
        matched: The queries that were matched and encoded, in query-set order.
        retrieved: Their rankings, one per entry of ``matched``.
        index: Stored ids and paths, to resolve names.
        table: The collection's vectors (the reranker's candidates come from it).
        match: How the query set matched the collection.
        failed: ``{query_id: reason}`` of query images that could not be read.
        encoder: The encoder that ran (loaded here when none was given).
        metric: The collection's metric.
        index_recall: Recall@K of the index against exact search (``ann`` only), else None.
        timings: Seconds spent reading vectors, encoding, searching.
    """

    matched: list[MatchedQuery]
    retrieved: list[Retrieved]
    index: ImageIndex
    table: VectorTable
    match: MatchReport
    failed: dict[str, str]
    encoder: Encoder
    metric: str
    index_recall: dict[str, Any] | None
    timings: Timings
    vectors: np.ndarray | None = None  # the matched queries' vectors (feedback rounds start from them)


def retrieval_stage(
    loaded: list[Query], cfg: Config, encoder: Encoder | None, store, settings: dict, progress: bool
) -> RetrievalResult:
    """Match, encode, rank (exactly, or through the index with ``ann``) every query; a store opened here is
    closed again."""
    from mmrag_lab.store.vector_store import Store

    own_store = store is None
    store = store or Store.open(cfg)
    protocol = settings["protocol"]
    ann_s = recall = None
    try:
        metric = store.open_collection("evaluate").metric
        t0 = time.perf_counter()
        table = VectorTable.read(store, metric)
        read_s = time.perf_counter() - t0
        index = ImageIndex(zip(table.ids, table.paths, strict=True))
        report = match_queries(loaded, index)
        if not report.matched:  # found before the encoder's load, which takes seconds
            raise EvaluationError(_nothing_to_evaluate(loaded, report.as_dict(), {}))
        encoder = encoder or _load_encoder(cfg)
        store.open_collection("evaluate", encoder.info)
        t0 = time.perf_counter()
        vectors, kept, failed = encode_all(encoder, report.matched, cfg.batch_size, progress)
        encode_s = time.perf_counter() - t0
        matched = [report.matched[i] for i in kept]
        if not matched:
            raise EvaluationError(_nothing_to_evaluate(loaded, report.as_dict(), failed))
        depth = max(
            settings["ks"] + settings["map_ks"] + ([SUBMISSION_DEPTH] if protocol["submission"] else [])
        )
        fetch = depth + (1 if protocol["exclude_reference"] else 0)
        pools = pool_rows(matched, index, table)
        t0 = time.perf_counter()
        hits = table.search(vectors, fetch, pools, device=cfg.device)
        exact_s = time.perf_counter() - t0
        if protocol["search"].startswith("ann"):
            t0 = time.perf_counter()
            exact, hits = hits, ann_search(store, vectors, fetch, pools, table)
            ann_s = time.perf_counter() - t0
            recall = index_recall(hits, exact, settings["ks"])
        if settings.get("keywords"):  # fused with BM25 by Milvus: through the store, not the exact table
            t0 = time.perf_counter()
            hits = hybrid_hits(store, vectors, matched, settings["keywords"], fetch, pools, table)
            ann_s = time.perf_counter() - t0
        subsets = subset_scores(table, vectors, matched)
    finally:
        if own_store:
            store.close()
    exclude = protocol["exclude_reference"]
    retrieved = [
        rank_query(m, h, s, depth=depth, exclude_reference=exclude, ties=settings["ties"])
        for m, h, s in zip(matched, hits, subsets, strict=True)
    ]
    timings = Timings(read_vectors_s=read_s, encode_s=encode_s, exact_search_s=exact_s, ann_search_s=ann_s)
    return RetrievalResult(
        matched, retrieved, index, table, report, failed, encoder, metric, recall, timings, vectors
    )


def _load_encoder(cfg: Config) -> Encoder:
    from mmrag_lab.encoders import load_encoder

    return load_encoder(config=cfg)


def _nothing_to_evaluate(loaded, match: dict, failed: dict) -> str:
    unmatched = list(match["unmatched_query_images"].values())
    shown = ", ".join(map(repr, unmatched[:3])) + (", ..." if len(unmatched) > 3 else "")
    return (
        f"None of the {len(loaded)} queries can be evaluated: {len(unmatched)} query images match no "
        f"stored image and no file{f' ({shown})' if unmatched else ''}, {len(failed)} could not be read. "
        "Check that the collection holds the benchmark's images and that the query set names them by file "
        "name or path."
    )
