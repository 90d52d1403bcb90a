"""Reading rankings out of model replies: every form accepted, every bad index caught, nothing raised."""

from __future__ import annotations

import pytest

from mmrag_lab.reranking.llm import RetryPolicy, redact
from mmrag_lab.reranking.parse import parse_ranking, validate_indices


@pytest.mark.parametrize(
    "reply, order, form",
    [
        ('{"ranking": [2, 0, 1], "explanation": "blue"}', [2, 0, 1], "json"),
        ('Sure:\n```json\n{"ranked_list": [1, 2, 0], "reason": "ok"}\n```', [1, 2, 0], "json"),
        ('{"Ranking": ["2", "1", "0"], "Explanation": "strings"}', [2, 1, 0], "json"),
        ("Ranked list: [2, 1, 0]\nReasons: the colour matches.", [2, 1, 0], "text"),
        ("ranked list: [2 1]\nreason: partial", [2, 1, 0], "text"),
        ("My answer is [1, 0, 2].", [1, 0, 2], "list"),
        ('{"note": {"x": 1}} then {"order": [0, 2]}', [0, 2, 1], "json"),
    ],
)
def test_accepted_forms(reply, order, form):
    parsed = parse_ranking(reply, 3)
    assert parsed.fallback_reason is None and parsed.order == order and parsed.form == form


def test_explanations_are_kept():
    assert parse_ranking("Ranked list: [1]\nReasons: it is blue", 2).explanation == "it is blue"
    assert parse_ranking('{"ranking": [1], "explanation": " red "}', 2).explanation == "red"


@pytest.mark.parametrize(
    "reply, reason",
    [
        ("", "empty"),
        ("   \n", "empty"),
        (None, "empty"),
        ("The second one.", "no ranking"),
        ('{"ranking": []}', "no usable index"),
        ('{"ranking": [7, -1, true, 1.5, "x"]}', "no usable index"),
        ("{" * 500, "no ranking"),
    ],
)
def test_unusable_replies_fall_back_to_retrieval_order(reply, reason):
    parsed = parse_ranking(reply, 4)
    assert parsed.order == [0, 1, 2, 3] and reason in parsed.fallback_reason


def test_validation_drops_bad_indices_and_appends_missing_ones():
    order, issues = validate_indices([3, 3, 9, -2, "1", 2.0, False], 5)
    assert order == [3, 1, 2, 0, 4]
    assert len([i for i in issues if "duplicate" in i]) == 1
    assert len([i for i in issues if "out of range" in i]) == 2
    assert any("not an integer" in i for i in issues) and any("appended" in i for i in issues)


def test_retry_wait_is_capped_and_honours_retry_after():
    policy = RetryPolicy(max_retries=5, backoff_s=1.0, max_wait_s=4.0)
    assert policy.wait(0, retry_after=2.5) == 2.5
    assert policy.wait(0, retry_after=600) == 4.0
    assert all(0.0 < policy.wait(attempt, None) <= 4.0 for attempt in range(10))


def test_redact_hides_the_key_and_its_prefix():
    key = "sk-" + "canary-0123456789abcdef"
    assert key[:12] not in redact(f"bad key {key} / {key[:14]}***", key)
