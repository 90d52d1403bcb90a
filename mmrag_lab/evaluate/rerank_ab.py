"""Reranker A/B: rerank the top-N of every query through :func:`mmrag_lab.rerank.rerank_many` and account
for what it changed and what it cost."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmrag_lab.errors import EvaluationError


@dataclass(frozen=True)
class RerankInput:
    """One query for the reranker: its ranking and where the images are."""

    query_id: str
    image_path: str
    instruction: str
    ranking: tuple[str, ...]
    paths: Mapping[str, str]


@dataclass(frozen=True)
class RerankOutcome:
    """The reranked ranking of one query and the reranker's record of the call."""

    ranking: tuple[str, ...]
    fallback_reason: str | None
    latency_s: float
    cached: bool
    prompt_tokens: int
    completion_tokens: int


def check_prices(prices: Mapping[str, float] | None) -> dict[str, float] | None:
    """Validate ``{"input_per_1m": USD, "output_per_1m": USD}`` (prices per million tokens)."""
    if prices is None:
        return None
    missing = {"input_per_1m", "output_per_1m"} - set(prices)
    if missing:
        raise EvaluationError(
            f"Prices need {sorted(missing)} (USD per 1M tokens), e.g. "
            "{'input_per_1m': 2.5, 'output_per_1m': 10.0}; check your provider's current price list."
        )
    return {k: float(prices[k]) for k in ("input_per_1m", "output_per_1m")}


def run_reranker(
    inputs: Sequence[RerankInput], *, top_n: int = 9, concurrency: int = 4, **rerank_kwargs: Any
) -> tuple[list[RerankOutcome], float]:
    """Rerank the first ``top_n`` candidates of every query; the rest keep their retrieval order.

    Args:
        inputs: The queries with their retrieval rankings.
        top_n: Candidates shown to the model (a grid of 3 columns is sized to fit them).
        concurrency: Requests in flight at most.
        **rerank_kwargs: Passed to :func:`mmrag_lab.rerank.rerank` (config, model, base_url, cache_dir...).

    Returns:
        One outcome per input, in input order, and the wall-clock seconds of the whole stage.
    """
    from mmrag_lab.rerank import rerank_many

    if top_n < 1:
        raise EvaluationError(f"rerank_top_n must be at least 1, got {top_n}.")
    grid = (math.ceil(top_n / 3), 3) if top_n > 3 else (1, top_n)
    jobs = [([x.paths[cid] for cid in x.ranking[:top_n]], x.image_path, x.instruction) for x in inputs]
    started = time.perf_counter()
    results = rerank_many(jobs, concurrency=concurrency, grid=grid, **rerank_kwargs)
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


def rerank_stats(
    outcomes: Sequence[RerankOutcome], *, top_n: int, wall_s: float, prices: Mapping[str, float] | None
) -> dict:
    """Fallbacks, cache hits, latency, tokens and estimated cost of a reranking stage.

    Cached replies report the tokens of their original call; they are counted under ``usage`` but not
    under ``billed_usage`` or the cost, since a cache hit sends nothing.
    """
    prices = check_prices(prices)
    latencies = np.array([o.latency_s for o in outcomes]) if outcomes else np.zeros(1)
    fresh = [o for o in outcomes if not o.cached]
    billed_in = sum(o.prompt_tokens for o in fresh)
    billed_out = sum(o.completion_tokens for o in fresh)
    cost = None
    if prices is not None:
        cost = (billed_in * prices["input_per_1m"] + billed_out * prices["output_per_1m"]) / 1e6
    reasons = Counter(o.fallback_reason for o in outcomes if o.fallback_reason)
    return {
        "top_n": top_n,
        "n_queries": len(outcomes),
        "n_fallback": sum(reasons.values()),
        "fallback_reasons": dict(reasons.most_common()),
        "n_cached": len(outcomes) - len(fresh),
        "latency_s": {
            "mean": float(latencies.mean()),
            "p50": float(np.percentile(latencies, 50)),
            "p95": float(np.percentile(latencies, 95)),
            "max": float(latencies.max()),
            "sum": float(latencies.sum()) if outcomes else 0.0,
        },
        "wall_s": wall_s,
        "usage": {
            "prompt_tokens": sum(o.prompt_tokens for o in outcomes),
            "completion_tokens": sum(o.completion_tokens for o in outcomes),
        },
        "billed_usage": {"prompt_tokens": billed_in, "completion_tokens": billed_out},
        "prices_per_1m": prices,
        "cost_usd": cost,
    }


def rank_move(before: int | None, after: int | None) -> str:
    """``improved``, ``worsened`` or ``unchanged`` for a best-target rank before and after reranking."""
    if before == after:
        return "unchanged"
    if after is not None and (before is None or after < before):
        return "improved"
    return "worsened"
