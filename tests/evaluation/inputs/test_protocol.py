"""A run's protocol: each benchmark's official reference rule, overrides marked, impossible options refused."""

from __future__ import annotations

import pytest

from mmrag_lab.errors import EvaluationError
from mmrag_lab.evaluation.inputs.protocol import describe
from mmrag_lab.evaluation.inputs.querysets import Query

QUERIES = [Query("1", "a", "in red", ("b",))]


def _describe(kind, exclude=None, queries=QUERIES, **flags):
    options = {"ann": False, "cirr_soft": False, "submission": False, **flags}
    return describe(kind, exclude, queries, **options)


@pytest.mark.parametrize(
    ("kind", "excluded"), [("cirr", True), ("circo", False), ("fashioniq", False), (None, True)]
)
def test_each_benchmark_has_its_official_reference_rule(kind, excluded):
    protocol = _describe(kind)
    assert protocol["exclude_reference"] is excluded and "OVERRIDDEN" not in protocol["reference"]
    assert protocol["benchmark"] == (kind or "custom")


def test_an_override_is_recorded_as_such():
    protocol = _describe("circo", exclude=True)
    assert protocol["exclude_reference"] is True
    assert protocol["reference"].endswith("-- OVERRIDDEN: reference removed")
    assert "OVERRIDDEN" not in _describe("circo", exclude=False)["reference"]  # the default, said explicitly


def test_targets_search_and_candidates_are_described():
    assert _describe("cirr")["targets"] == "target_hard (CLIP4Cir, SEARLE)"
    assert _describe("cirr", cirr_soft=True)["targets"] == "target_soft graded (CIRPLANT)"
    assert _describe(None, ann=True)["search"].startswith("ann") and _describe(None)["search"].startswith(
        "exact"
    )
    pooled = [Query("1", "a", "x", ("b",), category="dress", meta={"pool": ["a", "b"]})]
    assert "image_splits" in _describe("fashioniq", queries=pooled)["candidates"]
    assert "NOT searched apart" in _describe("fashioniq")["candidates"]


def test_soft_targets_and_submissions_only_where_the_benchmark_has_them():
    with pytest.raises(EvaluationError, match="--cirr-soft"):
        _describe("circo", cirr_soft=True)
    with pytest.raises(EvaluationError, match="Submission files exist for"):
        _describe("fashioniq", submission=True)
    assert _describe("circo", submission=True)["submission"] is True
