"""From per-query rankings to benchmark tables: overall, per category, and the average of categories.

Missing targets: a target that is not in the collection can never be retrieved. Each :class:`RankedQuery`
keeps such targets apart (``missing_targets``), and :func:`summarize` both reports them and applies one of
two policies:

- ``skip`` (default): missing targets are left out of the query's targets; a query left with no target is
  left out of the averages and listed under ``missing.skipped_queries``.
- ``miss``: missing targets stay; they never hit, so such queries score 0 (the full-corpus view).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mmrag_lab.errors import EvaluationError
from mmrag_lab.evaluation.running.metrics import (
    average_precision_at_k,
    graded_recall_at_k,
    recall_at_k,
    target_ranks,
)

RECALL_KS = (1, 5, 10, 50)
MAP_KS = (5, 10, 25, 50)
SUBSET_KS = (1, 2, 3)
MISSING_POLICIES = ("skip", "miss")


@dataclass(frozen=True)
class RankedQuery:
    """One evaluated query: its ranking and what counts as a hit.

    Attributes:
        query_id: Stable id of the query.
        ranking: Candidate ids, best first, with the reference already excluded when that is wanted.
        targets: Ground-truth ids that are in the collection.
        missing_targets: Ground-truth ids that are not in the collection.
        category: Optional category (FashionIQ: dress, shirt, toptee).
        subset: CIRR ``img_set`` members (reference excluded when it is excluded from ``ranking``) ranked
            best first, for Recall_subset@K; None when the query has no subset. It is kept apart from
            ``ranking`` because a top-K ranking may not reach every member.
        primary: CIRCO's ``target_img_id``: when set, ``recall@K`` counts it alone and ``recall_any@K``
            counts any target.
        graded: CIRR ``target_soft`` grades by id: when set, ``recall@K`` and ``recall_subset@K`` are
            CIRPLANT's soft recalls.
    """

    query_id: str
    ranking: tuple[str, ...]
    targets: tuple[str, ...]
    missing_targets: tuple[str, ...] = ()
    category: str | None = None
    subset: tuple[str, ...] | None = field(default=None)
    primary: str | None = None
    graded: tuple[tuple[str, float], ...] | None = None

    def scored_targets(self, missing: str) -> tuple[str, ...]:
        """The targets a metric counts under the given missing-target policy."""
        return self.targets + self.missing_targets if missing == "miss" else self.targets


def query_metrics(
    q: RankedQuery,
    *,
    ks: Sequence[int] = RECALL_KS,
    map_ks: Sequence[int] = MAP_KS,
    subset_ks: Sequence[int] = SUBSET_KS,
    missing: str = "skip",
) -> dict[str, float]:
    """One query's ``recall@K``, ``map@K`` (its AP@K) and, with a subset, ``recall_subset@K``."""
    targets = q.scored_targets(missing)
    graded = dict(q.graded) if q.graded is not None else None

    def recall(ranking: Sequence[str], k: int, wanted: Sequence[str]) -> float:
        return recall_at_k(ranking, wanted, k) if graded is None else graded_recall_at_k(ranking, graded, k)

    hit = (q.primary,) if q.primary is not None else targets
    out = {f"recall@{k}": recall(q.ranking, k, hit) for k in ks}
    if q.primary is not None:
        out.update({f"recall_any@{k}": recall_at_k(q.ranking, targets, k) for k in ks})
    out.update({f"map@{k}": average_precision_at_k(q.ranking, targets, k) for k in map_ks})
    if q.subset is not None:
        out.update({f"recall_subset@{k}": recall(q.subset, k, targets) for k in subset_ks})
    return out


def best_target_rank(q: RankedQuery) -> int | None:
    """Rank of the best-placed target (None when no target is in the ranking)."""
    ranks = [r for r in target_ranks(q.ranking, q.targets).values() if r is not None]
    return min(ranks) if ranks else None


def summarize(
    queries: Sequence[RankedQuery],
    *,
    ks: Sequence[int] = RECALL_KS,
    map_ks: Sequence[int] = MAP_KS,
    subset_ks: Sequence[int] = SUBSET_KS,
    missing: str = "skip",
) -> dict:
    """Average per-query metrics overall, per category, and as the mean of the category means (FashionIQ).

    Values are fractions in [0, 1]; multiply by 100 to compare with papers. ``recall_subset@K`` averages
    only over the queries that have a subset.

    Raises:
        EvaluationError: Unknown missing-target policy.
    """
    if missing not in MISSING_POLICIES:
        raise EvaluationError(f"Unknown missing-target policy {missing!r}; choose one of {MISSING_POLICIES}.")
    kept = [q for q in queries if q.scored_targets(missing)]
    per_query = [query_metrics(q, ks=ks, map_ks=map_ks, subset_ks=subset_ks, missing=missing) for q in kept]
    by_cat: dict[str, list[dict[str, float]]] = {}
    for q, m in zip(kept, per_query, strict=True):
        if q.category is not None:
            by_cat.setdefault(q.category, []).append(m)
    per_category = {c: _mean(rows) for c, rows in sorted(by_cat.items())}
    return {
        "n_queries": len(queries),
        "n_evaluated": len(kept),
        "overall": _mean(per_query),
        "per_category": per_category,
        "category_counts": {c: len(rows) for c, rows in sorted(by_cat.items())},
        "category_average": _mean(list(per_category.values())) if per_category else {},
        "missing": {
            "policy": missing,
            "n_missing_targets": sum(len(q.missing_targets) for q in queries),
            "queries_with_missing_targets": [q.query_id for q in queries if q.missing_targets],
            "skipped_queries": [q.query_id for q in queries if not q.scored_targets(missing)],
        },
    }


def _mean(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    return {k: float(np.mean([row[k] for row in rows if k in row])) for k in keys}
