"""The retrieval stage of an evaluation run: read the vectors, match and encode the queries, rank them."""

from __future__ import annotations

import time

from mmrag_lab.config import Config
from mmrag_lab.encoders.base import Encoder
from mmrag_lab.errors import EvaluationError
from mmrag_lab.evaluation.exact import VectorTable, index_recall
from mmrag_lab.evaluation.match import match_queries
from mmrag_lab.evaluation.querysets import ImageIndex
from mmrag_lab.evaluation.retrieve import ann_search, encode_all, pool_rows, rank_query, subset_scores
from mmrag_lab.evaluation.submission import SUBMISSION_DEPTH


def retrieval_stage(
    loaded, cfg: Config, encoder, store, settings: dict, timing: dict, progress: bool
) -> dict:
    """Match, encode, rank (exactly, or through the index with ``ann``) every query; a store opened here is
    closed again."""
    from mmrag_lab.store.collection import Store

    own_store = store is None
    store = store or Store.open(cfg)
    protocol = settings["protocol"]
    try:
        encoder = encoder or _load_encoder(cfg)
        metric = store.open_collection("evaluate", encoder.info).metric
        t0 = time.perf_counter()
        table = VectorTable.read(store, metric)
        timing["read_vectors_s"] = time.perf_counter() - t0
        index = ImageIndex(zip(table.ids, table.paths, strict=True))
        report = match_queries(loaded, index)
        t0 = time.perf_counter()
        vectors, kept, failed = encode_all(encoder, report.matched, cfg.batch_size, progress)
        timing["encode_s"] = time.perf_counter() - t0
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
        timing["exact_search_s"] = time.perf_counter() - t0
        recall = None
        if protocol["search"].startswith("ann"):
            t0 = time.perf_counter()
            exact, hits = hits, ann_search(store, vectors, fetch, pools, table)
            timing["ann_search_s"] = time.perf_counter() - t0
            recall = index_recall(hits, exact, settings["ks"])
        subsets = subset_scores(table, vectors, matched)
    finally:
        if own_store:
            store.close()
    exclude = protocol["exclude_reference"]
    retrieved = [
        rank_query(m, h, s, depth=depth, exclude_reference=exclude, ties=settings["ties"])
        for m, h, s in zip(matched, hits, subsets, strict=True)
    ]
    return {"matched": matched, "retrieved": retrieved, "index": index, "failed": failed, "table": table,
            "match": report.as_dict(), "encoder": encoder, "metric": metric, "index_recall": recall}  # fmt: skip


def _load_encoder(cfg: Config) -> Encoder:
    from mmrag_lab.encoders import load_encoder

    return load_encoder(config=cfg)


def _nothing_to_evaluate(loaded, match: dict, failed: dict) -> str:
    return (
        f"None of the {len(loaded)} queries can be evaluated: {len(match['unmatched_query_images'])} query "
        f"images match no stored image and no file, {len(failed)} could not be read. Check that the "
        "collection holds the benchmark's images and that the query set names them by file name or path."
    )
