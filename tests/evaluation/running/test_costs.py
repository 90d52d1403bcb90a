"""The reranker's accounting: fallbacks, cached calls, billed tokens and prices."""

from __future__ import annotations

import pytest

from mmrag_lab.errors import EvaluationError
from mmrag_lab.evaluation.running.costs import RerankOutcome, check_prices, rerank_stats


def _outcome(cached=False, fallback=None, latency=1.0, tokens=(1000, 100)):
    return RerankOutcome(("a",), fallback, latency, cached, *tokens)


def test_rerank_stats_counts_fallbacks_and_bills_only_fresh_calls():
    outcomes = [
        _outcome(),
        _outcome(cached=True, latency=0.0),
        _outcome(fallback="reply was not JSON", latency=3.0, tokens=(500, 50)),
        _outcome(fallback="reply was not JSON", latency=2.0, tokens=(0, 0)),
    ]
    stats = rerank_stats(outcomes, top_n=9, wall_s=2.5, prices={"input_per_1m": 2.0, "output_per_1m": 10.0})
    assert stats["n_fallback"] == 2 and stats["fallback_reasons"] == {"reply was not JSON": 2}
    assert stats["n_cached"] == 1
    assert stats["usage"] == {"prompt_tokens": 2500, "completion_tokens": 250}
    assert stats["billed_usage"] == {"prompt_tokens": 1500, "completion_tokens": 150}
    assert stats["cost_usd"] == pytest.approx((1500 * 2.0 + 150 * 10.0) / 1e6)
    assert stats["latency_s"]["max"] == 3.0 and stats["latency_s"]["sum"] == 6.0
    assert rerank_stats(outcomes, top_n=9, wall_s=1.0, prices=None)["cost_usd"] is None


def test_prices_must_name_both_directions():
    with pytest.raises(EvaluationError, match="output_per_1m"):
        check_prices({"input_per_1m": 1.0})
