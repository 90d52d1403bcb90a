"""Measure retrieval and reranking quality: benchmark metrics, query sets and evaluation runs."""

from __future__ import annotations

from mmrag_lab.evaluate.aggregate import (
    MAP_KS,
    RECALL_KS,
    SUBSET_KS,
    RankedQuery,
    best_target_rank,
    query_metrics,
    summarize,
)
from mmrag_lab.evaluate.metrics import (
    TIE_POLICIES,
    average_precision_at_k,
    order_ties,
    rank_by_score,
    recall_at_k,
    recall_subset_at_k,
    target_ranks,
)

__all__ = [
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
