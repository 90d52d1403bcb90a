"""Measure retrieval and reranking quality: benchmark metrics, query sets and evaluation runs."""

from __future__ import annotations

from mmrag_lab.evaluation.comparing.compare import compare
from mmrag_lab.evaluation.comparing.comparison import Comparison
from mmrag_lab.evaluation.inputs.benchmarks import (
    FASHIONIQ_CATEGORIES,
    coco_file_name,
    join_fashioniq_captions,
    load_circo,
    load_cirr,
    load_fashioniq,
    load_queries,
)
from mmrag_lab.evaluation.inputs.match import MatchedQuery, MatchReport, match_queries
from mmrag_lab.evaluation.inputs.protocol import EvalProtocol
from mmrag_lab.evaluation.inputs.querysets import ImageIndex, Query, read_jsonl, write_jsonl
from mmrag_lab.evaluation.records.run_tables import Table, compare_runs, results_table
from mmrag_lab.evaluation.records.rundir import EvalRun, load_run
from mmrag_lab.evaluation.running.aggregate import (
    MAP_KS,
    RECALL_KS,
    SUBSET_KS,
    RankedQuery,
    best_target_rank,
    query_metrics,
    summarize,
)
from mmrag_lab.evaluation.running.evaluate_run import evaluate
from mmrag_lab.evaluation.running.metrics import (
    TIE_POLICIES,
    average_precision_at_k,
    order_ties,
    rank_by_score,
    recall_at_k,
    recall_subset_at_k,
    target_ranks,
)

__all__ = [
    "Comparison",
    "EvalProtocol",
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
