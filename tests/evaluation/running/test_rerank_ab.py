"""Reranking A/B: how a target's rank moved, and the reranked subset merged back into the retrieval order."""

from __future__ import annotations

import pytest

from mmrag_lab.evaluation.running.rerank_ab import merge_subset, rank_move


@pytest.mark.parametrize(
    ("before", "after", "move"),
    [
        (3, 1, "improved"),
        (1, 3, "worsened"),
        (2, 2, "unchanged"),
        (None, None, "unchanged"),
        (None, 4, "improved"),
    ],
)
def test_rank_move(before, after, move):
    assert rank_move(before, after) == move


def test_merge_subset_follows_the_reranked_order_then_the_retrieval_subset_order():
    assert merge_subset(["x", "m3", "y", "m1"], ["m1", "m2", "m3"]) == ("m3", "m1", "m2")
