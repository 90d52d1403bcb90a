"""What a reranking stage cost: fallbacks, cache hits, latency, tokens and an estimate in USD."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mmrag_lab.errors import EvaluationError


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
