"""Metric definitions checked against hand-computed values and the benchmarks' published formulas."""

from __future__ import annotations

import random

import numpy as np
import pytest

from mmrag_lab.errors import EvaluationError
from mmrag_lab.evaluation import (
    RankedQuery,
    average_precision_at_k,
    best_target_rank,
    order_ties,
    query_metrics,
    rank_by_score,
    recall_at_k,
    recall_subset_at_k,
    summarize,
    target_ranks,
)

RANKING = ["a", "b", "c", "d", "e"]


@pytest.mark.parametrize(("k", "expected"), [(1, 0.0), (2, 0.0), (3, 1.0), (5, 1.0), (50, 1.0)])
def test_recall_single_target(k, expected):
    assert recall_at_k(RANKING, ["c"], k) == expected


@pytest.mark.parametrize(("k", "expected"), [(1, 0.0), (2, 1.0), (4, 1.0)])
def test_recall_counts_a_hit_when_any_of_several_targets_is_in_top_k(k, expected):
    assert recall_at_k(RANKING, ["d", "b"], k) == expected


def test_recall_with_target_outside_the_ranking_and_k_beyond_the_list():
    assert recall_at_k(RANKING, ["zzz"], 50) == 0.0
    assert recall_at_k(["t"], ["t"], 50) == 1.0
    assert recall_at_k([], ["t"], 5) == 0.0


def test_average_precision_hand_computed():
    ranking = ["a", "t1", "b", "t2", "c"]
    targets = ["t1", "t2", "t3"]
    assert average_precision_at_k(ranking, targets, 1) == 0.0
    assert average_precision_at_k(ranking, targets, 2) == pytest.approx((1 / 2) / 2)
    assert average_precision_at_k(ranking, targets, 5) == pytest.approx((1 / 2 + 2 / 4) / 3)


def test_average_precision_normalises_by_min_k_and_ground_truths_when_k_exceeds_the_list():
    # Two ground truths, one found at rank 1: (1/1) / min(50, 2).
    assert average_precision_at_k(["t1"], ["t1", "t2"], 50) == pytest.approx(0.5)
    # All targets at the top: AP is 1 whatever K is.
    assert average_precision_at_k(["t1", "t2", "x"], ["t1", "t2"], 50) == pytest.approx(1.0)
    # K smaller than the number of ground truths: the first K all hits gives 1.
    assert average_precision_at_k(["t1", "t2", "x"], ["t1", "t2", "t3"], 2) == pytest.approx(1.0)


def test_average_precision_counts_a_repeated_candidate_once():
    assert average_precision_at_k(["t", "t", "u"], ["t", "u"], 3) == pytest.approx((1 + 2 / 3) / 2)


def test_average_precision_of_a_single_target_is_its_reciprocal_rank_within_k():
    assert average_precision_at_k(RANKING, ["d"], 5) == pytest.approx(1 / 4)
    assert average_precision_at_k(RANKING, ["d"], 3) == 0.0


def _circo_map(predictions: np.ndarray, gts: list[int], k: int) -> float:
    # The formula of the CIRCO evaluation script: precision at every ground-truth position, summed over
    # the first k positions, over min(#ground truths, k).
    labels = np.isin(predictions, gts)
    precisions = np.cumsum(labels) * labels / np.arange(1, len(predictions) + 1)
    return float(np.sum(precisions[:k]) / min(len(gts), k))


def test_average_precision_agrees_with_the_circo_evaluation_formula_on_random_rankings():
    rng = random.Random(0)
    for _ in range(300):
        corpus = list(range(1, 80))
        predictions = rng.sample(corpus, 60)
        gts = rng.sample(corpus, rng.randint(1, 12))
        for k in (5, 10, 25, 50):
            mine = average_precision_at_k([str(p) for p in predictions], [str(g) for g in gts], k)
            assert mine == pytest.approx(_circo_map(np.array(predictions), gts, k))


def test_circo_val_query_worked_example():
    # CIRCO val query 0 has ground truths 355099, 528417, 534704. A ranking with two of them at ranks
    # 2 and 5: AP@5 = (1/2 + 2/5) / 3 = 0.3, AP@10 the same, AP@1 = 0.
    gts = ["355099", "528417", "534704"]
    ranking = ["1", "528417", "2", "3", "355099", "4", "5", "6", "7", "8"]
    assert average_precision_at_k(ranking, gts, 5) == pytest.approx(0.3)
    assert average_precision_at_k(ranking, gts, 10) == pytest.approx(0.3)
    assert average_precision_at_k(ranking, gts, 1) == 0.0


def _cirr_reference(sorted_names, reference, target, members, k):
    # The CIRR protocol as its common evaluation code does it: drop the reference from the sorted names,
    # then look for the target in the first k names, and in the first k names that are img_set members.
    names = np.array([n for n in sorted_names if n != reference])
    labels = names == target
    group = labels[np.isin(names, members)]
    return float(labels[:k].sum()), float(group[:k].sum())


def test_recall_and_subset_agree_with_the_cirr_protocol_on_random_rankings():
    rng = random.Random(1)
    for _ in range(200):
        names = [f"img{i}" for i in range(40)]
        rng.shuffle(names)
        members = rng.sample(names, 6)
        reference, target = members[0], members[rng.randint(1, 5)]
        scores = [rng.random() for _ in names]
        ranked = [cid for cid, _ in rank_by_score(names, scores, exclude=[reference])]
        full = [cid for cid, _ in rank_by_score(names, scores)]
        for k in (1, 2, 3, 5, 10):
            want_r, want_s = _cirr_reference(full, reference, target, members, k)
            assert recall_at_k(ranked, [target], k) == want_r
            assert recall_subset_at_k(ranked, [target], members, k, reference=reference) == want_s


def test_subset_restricts_to_members_and_excludes_the_reference():
    ranking = ["x1", "ref", "x2", "m1", "x3", "m2", "m3"]
    members = ["ref", "m1", "m2", "m3"]
    assert recall_subset_at_k(ranking, ["m2"], members, 1, reference="ref") == 0.0
    assert recall_subset_at_k(ranking, ["m2"], members, 2, reference="ref") == 1.0
    # Without excluding it, the reference takes the first subset place.
    assert recall_subset_at_k(ranking, ["m1"], members, 1) == 0.0
    assert recall_subset_at_k(ranking, ["m1"], members, 1, reference="ref") == 1.0


def test_rank_by_score_breaks_ties_by_id_whatever_the_input_order():
    ids, scores = ["b", "a", "c", "d"], [0.5, 0.5, 0.9, 0.1]
    expected = [("c", 0.9), ("a", 0.5), ("b", 0.5), ("d", 0.1)]
    assert rank_by_score(ids, scores) == expected
    assert rank_by_score(ids[::-1], scores[::-1]) == expected


def test_rank_by_score_excludes_reference_keeps_best_duplicate_and_handles_distances():
    ranked = rank_by_score(["r", "a", "b", "a"], [0.99, 0.2, 0.5, 0.7], exclude=["r"])
    assert ranked == [("a", 0.7), ("b", 0.5)]
    assert [c for c, _ in rank_by_score(["a", "b"], [0.3, 0.1], higher_is_better=False)] == ["b", "a"]


def test_rank_by_score_refuses_nan_and_length_mismatch():
    with pytest.raises(EvaluationError, match="NaN"):
        rank_by_score(["a"], [float("nan")])
    with pytest.raises(EvaluationError, match="one score per candidate"):
        rank_by_score(["a", "b"], [0.1])


def test_tie_policies_bound_the_metric():
    ranked = rank_by_score(["c", "t", "a", "z"], [0.5, 0.5, 0.5, 0.9])
    assert order_ties(ranked, ["t"], "stable") == ["z", "a", "c", "t"]
    assert order_ties(ranked, ["t"], "optimistic") == ["z", "t", "a", "c"]
    assert order_ties(ranked, ["t"], "pessimistic") == ["z", "a", "c", "t"]
    assert recall_at_k(order_ties(ranked, ["t"], "optimistic"), ["t"], 2) == 1.0
    assert recall_at_k(order_ties(ranked, ["t"], "pessimistic"), ["t"], 2) == 0.0
    with pytest.raises(EvaluationError, match="tie policy"):
        order_ties(ranked, ["t"], "random")


def test_target_ranks_report_absent_targets_as_none():
    assert target_ranks(RANKING, ["b", "q"]) == {"b": 2, "q": None}
    assert best_target_rank(RankedQuery("q", tuple(RANKING), ("e", "c"))) == 3
    assert best_target_rank(RankedQuery("q", tuple(RANKING), ("q",))) is None


def test_bad_k_is_refused():
    with pytest.raises(EvaluationError, match="positive integer"):
        recall_at_k(RANKING, ["a"], 0)


def test_query_metrics_includes_subset_only_when_given():
    q = RankedQuery("q", ("a", "t", "b"), ("t",), subset=("t", "b"))
    m = query_metrics(q, ks=(1, 2), map_ks=(2,), subset_ks=(1,))
    assert m == {"recall@1": 0.0, "recall@2": 1.0, "map@2": 0.5, "recall_subset@1": 1.0}
    assert "recall_subset@1" not in query_metrics(RankedQuery("q", ("t",), ("t",)), subset_ks=(1,))


def test_summarize_per_category_and_category_average():
    queries = [
        RankedQuery("1", ("t", "x"), ("t",), category="dress"),
        RankedQuery("2", ("x", "t"), ("t",), category="dress"),
        RankedQuery("3", ("t", "x"), ("t",), category="shirt"),
    ]
    out = summarize(queries, ks=(1,), map_ks=(), subset_ks=())
    assert out["per_category"] == {"dress": {"recall@1": 0.5}, "shirt": {"recall@1": 1.0}}
    assert out["category_average"]["recall@1"] == pytest.approx(0.75)
    assert out["overall"]["recall@1"] == pytest.approx(2 / 3)


def test_missing_targets_are_reported_and_the_policy_decides_the_score():
    queries = [
        RankedQuery("hit", ("t", "x"), ("t",)),
        RankedQuery("gone", ("x", "y"), (), missing_targets=("z",)),
        RankedQuery("part", ("u", "x"), ("u",), missing_targets=("z",)),
    ]
    skip = summarize(queries, ks=(1,), map_ks=(5,), subset_ks=())
    assert skip["n_queries"] == 3 and skip["n_evaluated"] == 2
    assert skip["overall"]["recall@1"] == 1.0
    assert skip["overall"]["map@5"] == 1.0
    assert skip["missing"]["skipped_queries"] == ["gone"]
    assert skip["missing"]["queries_with_missing_targets"] == ["gone", "part"]
    assert skip["missing"]["n_missing_targets"] == 2

    miss = summarize(queries, ks=(1,), map_ks=(5,), subset_ks=(), missing="miss")
    assert miss["n_evaluated"] == 3 and miss["missing"]["skipped_queries"] == []
    assert miss["overall"]["recall@1"] == pytest.approx(2 / 3)
    # "part": one of two targets at rank 1 -> AP@5 = 1 / min(5, 2).
    assert miss["overall"]["map@5"] == pytest.approx((1 + 0 + 0.5) / 3)
    with pytest.raises(EvaluationError, match="missing-target policy"):
        summarize(queries, missing="drop")


def test_subset_recall_is_averaged_only_over_queries_that_have_a_subset():
    queries = [
        RankedQuery("1", ("a", "t"), ("t",), subset=("t",)),
        RankedQuery("2", ("a", "t"), ("t",)),
    ]
    out = summarize(queries, ks=(1,), map_ks=(), subset_ks=(1,))
    assert out["overall"]["recall_subset@1"] == 1.0
    assert out["overall"]["recall@1"] == 0.0
