"""The paired test of two runs (scipy's permutation test and bootstrap), wins and ties, per-query values."""

from __future__ import annotations

import pytest

from mmrag_lab.evaluation.comparing.paired_stats import (
    largest_changes,
    paired_test,
    per_query,
    rank_of,
    wins_ties_losses,
)

SETTINGS = {"ks": (1, 5), "map_ks": (), "subset_ks": (), "missing": "skip"}


def test_a_clear_improvement_is_significant_and_its_interval_excludes_zero():
    a = [0.0] * 20 + [1.0] * 5
    b = [1.0] * 20 + [1.0] * 5
    out = paired_test(a, b, n_resamples=999)
    assert out["n"] == 25 and out["difference"] == pytest.approx(80.0)
    assert out["p_value"] < 0.01 and 0.0 < out["ci_low"] <= out["difference"] <= out["ci_high"]


def test_identical_runs_differ_by_nothing():
    out = paired_test([0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0], n_resamples=99)
    assert out["difference"] == 0.0 and out["ci_low"] == out["ci_high"] == 0.0 and out["p_value"] == 1.0


def test_the_same_seed_gives_the_same_answer():
    a, b = [0.1, 0.5, 0.2, 0.9, 0.4], [0.3, 0.4, 0.6, 0.9, 0.8]
    assert paired_test(a, b, n_resamples=199) == paired_test(a, b, n_resamples=199)


def test_fewer_than_two_queries_give_no_test():
    assert paired_test([1.0], [0.0])["note"] == "fewer than 2 paired queries"
    assert paired_test([], [])["difference"] is None


def test_wins_ties_losses_and_largest_changes():
    a = {"q1": 1, "q2": 5, "q3": None, "q4": 2, "only_a": 1}
    b = {"q1": 1, "q2": 2, "q3": 3, "q4": None}
    assert wins_ties_losses(a, b) == {"wins": 2, "ties": 1, "losses": 1}
    assert largest_changes(a, b, n=2, depth=10) == [
        "q4",
        "q3",
    ]  # 2 -> 11 and 11 -> 3 (not retrieved: depth+1)


def test_per_query_reads_stored_metrics_and_rescores_older_records():
    stored = {"id": "s", "metrics": {"recall@1": 1.0}, "reranked_metrics": None}
    old = {"id": "o", "ranking": ["x", "t"], "targets": ["t"]}
    assert per_query([stored, old], SETTINGS) == {"s": {"recall@1": 1.0}, "o": pytest.approx(
        {"recall@1": 0.0, "recall@5": 1.0}
    )}  # fmt: skip
    assert per_query([stored, old], SETTINGS, stage="reranked") == {}
    assert rank_of({"best_target_rank": 2, "reranked_best_target_rank": 1}, "reranked") == 1
