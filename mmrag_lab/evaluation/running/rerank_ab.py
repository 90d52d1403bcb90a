"""Reranker A/B: rerank the top-N of every query through :func:`mmrag_lab.reranking.reranker.rerank_many` (and so
through its reply cache), then score the reranked rankings and record every query's target move."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mmrag_lab.errors import EvaluationError
from mmrag_lab.evaluation.inputs.match import MatchedQuery
from mmrag_lab.evaluation.running.aggregate import RankedQuery, best_target_rank, query_metrics, summarize
from mmrag_lab.evaluation.running.costs import RerankOutcome, rerank_stats
from mmrag_lab.evaluation.running.exact import VectorTable
from mmrag_lab.evaluation.running.metrics import target_ranks
from mmrag_lab.evaluation.running.ranking import Retrieved
from mmrag_lab.retrieval.results import Hit


@dataclass(frozen=True)
class RerankInput:
    """One query for the reranker: its ranking and each candidate as a search hit (path and metadata)."""

    query_id: str
    image_path: str
    instruction: str
    ranking: tuple[str, ...]
    hits: Mapping[str, Hit]


def run_reranker(
    inputs: Sequence[RerankInput], *, top_n: int = 9, concurrency: int = 4, **rerank_kwargs: Any
) -> tuple[list[RerankOutcome], float]:
    """Rerank the first ``top_n`` candidates of every query; the rest keep their retrieval order.

    Args:
        inputs: The queries with their retrieval rankings.
        top_n: Candidates shown to the model (a grid of 3 columns is sized to fit them).
        concurrency: Requests in flight at most.
        **rerank_kwargs: Passed to :func:`mmrag_lab.reranking.reranker.rerank` (config, model, base_url, cache_dir...).

    Returns:
        One outcome per input, in input order, and the wall-clock seconds of the whole stage.
    """
    from mmrag_lab.reranking.panorama import PanoramaOptions
    from mmrag_lab.reranking.reranker import rerank_many

    if top_n < 1:
        raise EvaluationError(f"rerank_top_n must be at least 1, got {top_n}.")
    grid = (math.ceil(top_n / 3), 3) if top_n > 3 else (1, top_n)
    # Hits, not bare paths: the prompt then lists each candidate's metadata, as in the notebooks and the app.
    jobs = [([x.hits[cid] for cid in x.ranking[:top_n]], x.image_path, x.instruction) for x in inputs]
    started = time.perf_counter()
    results = rerank_many(jobs, concurrency=concurrency, panorama=PanoramaOptions(grid=grid), **rerank_kwargs)
    wall = time.perf_counter() - started
    outcomes = []
    for x, res in zip(inputs, results, strict=True):
        head = x.ranking[:top_n]
        order = [head[i] for i in res.order] if res.order else list(head)
        outcomes.append(
            RerankOutcome(
                ranking=tuple(order) + x.ranking[top_n:],
                fallback_reason=res.fallback_reason,
                latency_s=float(res.latency_s),
                cached=bool(res.cached),
                prompt_tokens=int(res.usage.prompt_tokens),
                completion_tokens=int(res.usage.completion_tokens),
            )
        )
    return outcomes, wall


def rank_move(before: int | None, after: int | None) -> str:
    """``improved``, ``worsened`` or ``unchanged`` for a best-target rank before and after reranking."""
    if before == after:
        return "unchanged"
    if after is not None and (before is None or after < before):
        return "improved"
    return "worsened"


def rerank_stage(
    matched: Sequence[MatchedQuery],
    retrieved: Sequence[Retrieved],
    records: Sequence[dict],
    table: VectorTable,
    *,
    top_n: int,
    concurrency: int,
    prices: Mapping[str, float] | None,
    summary_args: Mapping[str, Any],
    **rerank_kwargs: Any,
) -> dict:
    """Rerank every query, add the reranked order to its record, and score the reranked rankings.

    Returns:
        ``reranked`` (the metrics summary), ``rerank`` (fallbacks, latency, tokens, cost) and
        ``rank_moves`` (how many best-target ranks improved, worsened or stayed), for ``metrics.json``.
    """
    inputs = [
        RerankInput(m.query.query_id, m.image_path, m.query.instruction, r.ranking, _hits(r, table, top_n))
        for m, r in zip(matched, retrieved, strict=True)
    ]
    outcomes, wall = run_reranker(inputs, top_n=top_n, concurrency=concurrency, **rerank_kwargs)
    after = []
    for m, r, o, rec in zip(matched, retrieved, outcomes, records, strict=True):
        q = m.ranked(o.ranking, None if r.subset is None else merge_subset(o.ranking, r.subset))
        after.append(q)
        rec.update(_record(q, o, rec["best_target_rank"]))
        rec["reranked_metrics"] = query_metrics(q, **summary_args) if rec.get("metrics") is not None else None
    moves = Counter(rec["move"] for rec in records)
    return {
        "reranked": summarize(after, **summary_args),
        "rerank": rerank_stats(outcomes, top_n=top_n, wall_s=wall, prices=prices),
        "rank_moves": {k: moves.get(k, 0) for k in ("improved", "worsened", "unchanged")},
    }


def merge_subset(ranking: Sequence[str], subset: Sequence[str]) -> tuple[str, ...]:
    """Subset members in their order in ``ranking``; members beyond it keep their order in ``subset``."""
    members = set(subset)
    head = [cid for cid in ranking if cid in members]
    seen = set(head)
    return tuple(head + [cid for cid in subset if cid not in seen])


def _record(q: RankedQuery, o: RerankOutcome, before: int | None) -> dict:
    after = best_target_rank(q)
    return {
        "reranked": list(q.ranking),
        "reranked_subset": None if q.subset is None else list(q.subset),
        "reranked_target_ranks": target_ranks(q.ranking, q.targets),
        "reranked_best_target_rank": after,
        "move": rank_move(before, after),
        "rerank": {
            "fallback_reason": o.fallback_reason,
            "latency_s": o.latency_s,
            "cached": o.cached,
            "prompt_tokens": o.prompt_tokens,
            "completion_tokens": o.completion_tokens,
        },
    }


def _hits(r: Retrieved, table: VectorTable, top_n: int) -> dict[str, Hit]:
    """The first ``top_n`` candidates as search hits, built the way ``mmrag_lab.search`` builds them."""
    out = {}
    for rank, (cid, score) in enumerate(zip(r.ranking[:top_n], r.scores[:top_n], strict=True), start=1):
        row = table.position[cid]
        out[cid] = Hit.from_row(
            rank, {"id": cid, "score": score, "path": table.paths[row], "meta": table.metas[row]}
        )
    return out
