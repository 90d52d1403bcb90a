"""Per-query values of a run, and the paired test of two runs over the same queries (scipy.stats).

The per-query values are the project's own metrics (:func:`mmrag_lab.evaluation.running.aggregate.query_metrics`),
read from ``rankings.jsonl``. Runs written before those files kept them are re-scored from their stored
rankings (exact for Recall@K, Recall_subset@K and mAP@K; CIRCO's primary-target recall and CIRR's soft
recall need the newer files).

The test: the difference of the means of B and A over the queries both runs evaluated, a paired
permutation test (``scipy.stats.permutation_test``, ``permutation_type="samples"``: each query's two values
are swapped or not) for the two-sided p-value, and a paired bootstrap (``scipy.stats.bootstrap``,
``paired=True``, BCa) for the 95 % confidence interval of the difference.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats

from mmrag_lab.evaluation.running.aggregate import RankedQuery, query_metrics

N_RESAMPLES = 2999
# Fewer than 99 resamples give no 95 % interval worth the name and no p-value finer than 0.01; more than
# 100,000 hold (resamples x queries) floats in memory at once for no visible gain.
MIN_RESAMPLES, MAX_RESAMPLES = 99, 100_000
MAX_SHOW, MAX_HITS = 50, 10  # queries per disagreement figure, hits per run in it
SEED = 0


def per_query(rankings: Sequence[dict], settings: Mapping, stage: str = "retrieval") -> dict[str, dict]:
    """``{query id: {metric: value}}`` for the queries a run scored at ``stage`` (``retrieval``/``reranked``)."""
    key = "metrics" if stage == "retrieval" else "reranked_metrics"
    out = {}
    for rec in rankings:
        if key in rec:
            if rec[key] is not None:
                out[rec["id"]] = rec[key]
            continue
        values = _rescored(rec, settings, stage)
        if values is not None:
            out[rec["id"]] = values
    return out


def _rescored(rec: dict, settings: Mapping, stage: str) -> dict | None:
    ranking = rec.get("reranked") if stage == "reranked" else rec["ranking"]
    if ranking is None:
        return None
    subset = rec.get("reranked_subset") if stage == "reranked" else rec.get("subset")
    q = RankedQuery(
        query_id=rec["id"],
        ranking=tuple(ranking),
        targets=tuple(rec["targets"]),
        missing_targets=tuple(rec.get("missing_targets") or ()),
        category=rec.get("category"),
        subset=None if subset is None else tuple(subset),
    )
    missing = settings.get("missing", "skip")
    if not q.scored_targets(missing):
        return None
    return query_metrics(
        q, ks=settings["ks"], map_ks=settings["map_ks"], subset_ks=settings["subset_ks"], missing=missing
    )


def paired_test(
    a: Sequence[float], b: Sequence[float], *, n_resamples: int = N_RESAMPLES, seed: int = SEED
) -> dict:
    """Mean difference ``b - a`` in points, its two-sided permutation p-value and 95 % bootstrap CI.

    Args:
        a: One value per query (fractions), first run.
        b: The same queries' values, other run, in the same order.
        n_resamples: Permutations and bootstrap resamples (scipy enumerates every permutation exactly when
            there are fewer).
        seed: Seed of the resampling, so that a comparison reads the same twice.
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = y - x
    out = {"n": int(len(x)), "difference": 100.0 * float(diff.mean()) if len(x) else None}
    if len(x) < 2:
        return {
            **out,
            "p_value": None,
            "ci_low": None,
            "ci_high": None,
            "note": "fewer than 2 paired queries",
        }
    rng = np.random.default_rng(seed)
    perm = stats.permutation_test(
        (y, x), _mean_difference, permutation_type="samples", vectorized=True, n_resamples=n_resamples,
        alternative="two-sided", rng=rng,
    )  # fmt: skip
    if np.all(diff == diff[0]):
        # Every resample has the same mean: the interval is that one value (BCa would divide by zero).
        low = high = float(diff[0])
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=stats.DegenerateDataWarning)
            boot = stats.bootstrap(
                (y, x), _mean_difference, paired=True, vectorized=True, n_resamples=n_resamples,
                confidence_level=0.95, method="BCa", rng=rng,
            )  # fmt: skip
        low, high = float(boot.confidence_interval.low), float(boot.confidence_interval.high)
    return {**out, "p_value": float(min(1.0, perm.pvalue)), "ci_low": 100.0 * low, "ci_high": 100.0 * high}


def _mean_difference(y: np.ndarray, x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(y, axis=axis) - np.mean(x, axis=axis)


def rank_of(rec: dict, stage: str = "retrieval") -> int | None:
    """The best target rank of a record at ``stage`` (None: no target retrieved)."""
    return rec.get("reranked_best_target_rank") if stage == "reranked" else rec.get("best_target_rank")


def wins_ties_losses(ranks_a: Mapping[str, int | None], ranks_b: Mapping[str, int | None]) -> dict:
    """How often B places the best target higher (win), the same (tie) or lower (loss) than A."""
    counts = {"wins": 0, "ties": 0, "losses": 0}
    for qid in ranks_a.keys() & ranks_b.keys():
        ra, rb = _depth(ranks_a[qid]), _depth(ranks_b[qid])
        counts["ties" if ra == rb else "wins" if rb < ra else "losses"] += 1
    return counts


def _depth(rank: int | None) -> float:
    return float("inf") if rank is None else float(rank)


def largest_changes(
    ranks_a: Mapping[str, int | None], ranks_b: Mapping[str, int | None], n: int, depth: int
) -> list[str]:
    """The ``n`` query ids whose best target rank differs most between A and B (not retrieved: ``depth+1``)."""

    def change(qid: str) -> tuple:
        ra, rb = (depth + 1 if r is None else r for r in (ranks_a[qid], ranks_b[qid]))
        return (-abs(ra - rb), qid)

    moved = [q for q in ranks_a.keys() & ranks_b.keys() if ranks_a[q] != ranks_b[q]]
    return sorted(moved, key=change)[:n]
