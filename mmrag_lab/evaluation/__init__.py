"""Measure retrieval and reranking quality: benchmark metrics, query sets and evaluation runs."""

from __future__ import annotations

from mmrag_lab.evaluation.aggregate import (
    MAP_KS,
    RECALL_KS,
    SUBSET_KS,
    RankedQuery,
    best_target_rank,
    query_metrics,
    summarize,
)
from mmrag_lab.evaluation.benchmarks import (
    FASHIONIQ_CATEGORIES,
    coco_file_name,
    join_fashioniq_captions,
    load_circo,
    load_cirr,
    load_fashioniq,
    load_queries,
)
from mmrag_lab.evaluation.compare import compare
from mmrag_lab.evaluation.compare_report import Comparison
from mmrag_lab.evaluation.match import MatchedQuery, MatchReport, match_queries
from mmrag_lab.evaluation.metrics import (
    TIE_POLICIES,
    average_precision_at_k,
    order_ties,
    rank_by_score,
    recall_at_k,
    recall_subset_at_k,
    target_ranks,
)
from mmrag_lab.evaluation.querysets import ImageIndex, Query, read_jsonl, write_jsonl
from mmrag_lab.evaluation.report import Table, compare_runs, results_table
from mmrag_lab.evaluation.rundir import EvalRun, load_run
from mmrag_lab.evaluation.runner import evaluate

__all__ = [
    "Comparison",
    "EvalRun",
    "compare",
    "Table",
    "compare_runs",
    "evaluate",
    "load_run",
    "results_table",
    "FASHIONIQ_CATEGORIES",
    "ImageIndex",
    "MatchReport",
    "MatchedQuery",
    "Query",
    "coco_file_name",
    "join_fashioniq_captions",
    "load_circo",
    "load_cirr",
    "load_fashioniq",
    "load_queries",
    "match_queries",
    "read_jsonl",
    "write_jsonl",
    "MAP_KS",
    "RECALL_KS",
    "SUBSET_KS",
    "TIE_POLICIES",
    "RankedQuery",
    "average_precision_at_k",
    "best_target_rank",
    "order_ties",
    "query_metrics",
    "rank_by_score",
    "recall_at_k",
    "recall_subset_at_k",
    "summarize",
    "target_ranks",
]
