"""Per-query ranking metrics for composed image retrieval, as the benchmark papers define them.

Every function here is pure. A *ranking* is a sequence of candidate ids, best first; *targets* are the
query's ground-truth ids. A ranking shorter than K counts as if it were padded with non-targets.

Definitions (``r(t)`` is the 1-based rank of target ``t``; a target absent from the ranking never hits):

- **Recall@K** (CIRR, FashionIQ): 1 if ANY target has ``r(t) <= K``, else 0; averaged over queries.
  With one target per query this is the hit rate the CIRR and FashionIQ papers report.
- **Soft Recall@K** (CIRR with ``target_soft``, CIRPLANT's validation code): the best soft score (1.0,
  0.5 or -1.0) among the soft targets in the top K, and 0 when none is (so -1.0 never counts).
- **CIRCO Recall@K** (``evaluation.py``): Recall@K of ``target_img_id`` alone; the any-ground-truth
  variant is reported as ``recall_any@K``.
- **Recall_subset@K** (CIRR): Recall@K of the ranking restricted to the query's ``img_set`` members, the
  reference image excluded (CIRR reports K = 1, 2, 3 over the 5 remaining members).
- **AP@K** (CIRCO, ``miccunifi/CIRCO`` ``src/evaluation.py``)::

      AP@K = 1 / min(K, G) * sum_{k=1..K} P@k * rel(k)

  where ``G`` is the number of ground truths, ``rel(k)`` is 1 when the candidate at rank ``k`` is a ground
  truth and ``P@k`` is the fraction of ground truths among the first ``k`` candidates. mAP@K is its mean.

Ties: retrieval scores can be equal (duplicate images, quantised indexes). :func:`rank_by_score` orders
candidates by score, then by id as a string, so a ranking never depends on the order a backend returned
equal-scored hits in. :func:`order_ties` gives the optimistic (targets first among equals) and pessimistic
(targets last) orders, whose metrics bound what any tie-break could give.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from mmrag_lab.errors import EvaluationError

TIE_POLICIES = ("stable", "optimistic", "pessimistic")


def rank_by_score(
    ids: Sequence[str], scores: Sequence[float], *, exclude: Iterable[str] = (), higher_is_better: bool = True
) -> list[tuple[str, float]]:
    """Order candidates best first, with ties broken by id, dropping excluded and repeated ids.

    Args:
        ids: Candidate ids, in any order.
        scores: One score per id.
        exclude: Ids to leave out (e.g. the query's own reference image).
        higher_is_better: False for distances (L2), where smaller scores rank first.

    Returns:
        ``(id, score)`` pairs, best first. A repeated id keeps its best score.

    Raises:
        EvaluationError: ``ids`` and ``scores`` differ in length, or a score is NaN.
    """
    if len(ids) != len(scores):
        raise EvaluationError(f"Got {len(ids)} ids but {len(scores)} scores; pass one score per candidate.")
    sign = -1.0 if higher_is_better else 1.0
    keyed = []
    for cid, score in zip(ids, scores, strict=True):
        if math.isnan(float(score)):
            raise EvaluationError(f"Candidate {cid!r} has a NaN score; check the encoder's output.")
        keyed.append((sign * float(score), str(cid), float(score)))
    keyed.sort()
    skip, out = set(map(str, exclude)), []
    for _, cid, score in keyed:
        if cid not in skip:
            skip.add(cid)
            out.append((cid, score))
    return out


def order_ties(
    ranked: Sequence[tuple[str, float]], targets: Iterable[str], policy: str = "stable"
) -> list[str]:
    """Reorder each run of equal scores so that targets come first (optimistic) or last (pessimistic).

    Args:
        ranked: ``(id, score)`` pairs, best first, as :func:`rank_by_score` returns them.
        targets: The query's ground-truth ids.
        policy: ``stable`` (keep the given order), ``optimistic`` or ``pessimistic``.

    Returns:
        The candidate ids in the chosen order.
    """
    if policy not in TIE_POLICIES:
        raise EvaluationError(f"Unknown tie policy {policy!r}; choose one of {TIE_POLICIES}.")
    ids = [cid for cid, _ in ranked]
    if policy == "stable":
        return ids
    wanted = set(targets)
    out: list[str] = []
    start = 0
    while start < len(ranked):
        end = start
        while end < len(ranked) and ranked[end][1] == ranked[start][1]:
            end += 1
        run = ids[start:end]
        hits = [cid for cid in run if cid in wanted]
        rest = [cid for cid in run if cid not in wanted]
        out += hits + rest if policy == "optimistic" else rest + hits
        start = end
    return out


def target_ranks(ranking: Sequence[str], targets: Iterable[str]) -> dict[str, int | None]:
    """1-based rank of each target in the ranking, or None when the ranking does not contain it."""
    first: dict[str, int] = {}
    for pos, cid in enumerate(ranking, start=1):
        first.setdefault(cid, pos)
    return {t: first.get(t) for t in targets}


def recall_at_k(ranking: Sequence[str], targets: Iterable[str], k: int) -> float:
    """1.0 if any target is among the first ``k`` candidates, else 0.0 (CIRR/FashionIQ Recall@K)."""
    _check_k(k)
    wanted = set(targets)
    return 1.0 if any(cid in wanted for cid in ranking[:k]) else 0.0


def graded_recall_at_k(ranking: Sequence[str], graded: Mapping[str, float], k: int) -> float:
    """CIRPLANT's soft Recall@K: the highest grade among the first ``k`` candidates, at least 0."""
    _check_k(k)
    top = set(ranking[:k])
    return max([0.0, *(float(g) for cid, g in graded.items() if cid in top)])


def recall_subset_at_k(
    ranking: Sequence[str],
    targets: Iterable[str],
    members: Iterable[str],
    k: int,
    *,
    reference: str | None = None,
) -> float:
    """CIRR Recall_subset@K: Recall@K of the ranking restricted to ``members`` minus ``reference``.

    Members missing from the ranking are left out of the restricted ranking; pass a ranking that covers
    every member (the evaluation runner scores them all) so the subset metric is exact.
    """
    allowed = set(members) - {reference}
    return recall_at_k([cid for cid in ranking if cid in allowed], targets, k)


def average_precision_at_k(ranking: Sequence[str], targets: Iterable[str], k: int) -> float:
    """CIRCO AP@K: the sum of P@i over target positions i <= k, divided by min(k, number of targets)."""
    _check_k(k)
    wanted = set(targets)
    if not wanted:
        return 0.0
    hits, total, seen = 0, 0.0, set()
    for pos, cid in enumerate(ranking[:k], start=1):
        if cid in wanted and cid not in seen:
            seen.add(cid)
            hits += 1
            total += hits / pos
    return total / min(k, len(wanted))


def _check_k(k: int) -> None:
    if int(k) != k or k < 1:
        raise EvaluationError(f"K must be a positive integer, got {k!r}.")
