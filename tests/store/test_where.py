"""KEY=VALUE filter pairs: one set of rules for ``mmrag search --where`` and the app's filter box."""

from __future__ import annotations

import pytest

from mmrag_lab.errors import QueryError
from mmrag_lab.store.where import parse_where


def test_repeated_keys_collect_values_and_only_size_keys_are_numbers():
    where = parse_where(
        ["category=dress", "min_width=300", "category=hat", "year=2021", "width=64", "width=32"]
    )
    assert where == {"category": ["dress", "hat"], "min_width": 300, "year": "2021", "width": [64, 32]}


def test_spaces_and_one_pair_of_quotes_around_the_value_are_dropped():
    assert parse_where([' title = "a b" ', "code='7'", "note=it's", "path=a=b"]) == {
        "title": "a b",
        "code": "7",
        "note": "it's",
        "path": "a=b",
    }


@pytest.mark.parametrize(
    "pair, message", [("category", "KEY=VALUE"), ("=dress", "KEY=VALUE"), ("max_height=tall", "whole number")]
)
def test_malformed_pairs_say_what_to_write(pair, message):
    with pytest.raises(QueryError, match=message):
        parse_where([pair])
