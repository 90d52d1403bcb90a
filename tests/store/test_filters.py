"""Building filter expressions: the vocabulary, escaping, and what each backend dialect can express."""

from __future__ import annotations

import json
import re

import pytest

from mmrag_lab.errors import QueryError
from mmrag_lab.store.filters import (
    LITE,
    SERVER,
    SERVER_2_3,
    build_filter,
    combine,
    dialect_for,
    string_literal,
)

HOSTILE = ['say "hi"', "back\\slash", "new\nline", "tab\there", "ünïcødé ☃", '" or 1==1', "\\", "\x01", ""]


@pytest.mark.parametrize("value", HOSTILE)
def test_string_literals_hold_exactly_the_value(value):
    literal = string_literal(value)
    assert literal.startswith('"') and literal.endswith('"') and json.loads(literal, strict=False) == value
    # No unescaped quote can end the literal early.
    assert not re.search(r'(?<!\\)(\\\\)*"', literal[1:-1])
    assert "\n" not in literal and "\r" not in literal


def test_vocabulary():
    where = {
        "category": "dress",
        "path_prefix": "/data/shoes",
        "min_width": 300,
        "max_file_size": 10_000,
        "height": [533, 534],
        "id": "abc",
        "meta.colour": ["red", "blue"],
        "in_stock": True,
    }
    expr = build_filter(where, metadata_keys=["category", "in_stock"])
    assert expr == (
        'meta["category"] == "dress" and (path >= "/data/shoes" and path < "/data/shoet") and width >= 300 and file_size <= 10000 '
        'and height in [533, 534] and id == "abc" and (meta["colour"] == "red" or meta["colour"] == "blue") '
        'and meta["in_stock"] == true'
    )
    assert build_filter(None) == "" and build_filter({}) == ""


def test_like_patterns_are_written_for_the_way_the_backend_reads_them():
    # Lite matches a wildcard-free %text% as plain text; a pattern with wildcards honours escapes.
    assert build_filter({"path_contains": "back\\slash"}, dialect=LITE) == 'path like "%back\\\\slash%"'
    assert (
        build_filter({"path_contains": "50%_off\\x"}, dialect=LITE)
        == 'path like "%50\\\\%\\\\_off\\\\\\\\x%"'
    )
    assert build_filter({"path_contains": "50%"}, dialect=SERVER) == 'path like "%50\\\\%%"'
    # Beside a metadata condition Lite reads patterns without escapes: a backslash is itself.
    expr = build_filter({"path_contains": "end\\", "category": "x"}, dialect=LITE)
    assert expr.startswith('path like "%end\\\\%"')
    with pytest.raises(QueryError, match="literally beside a metadata"):
        build_filter({"path_contains": "x_y", "category": "x"}, dialect=LITE)
    with pytest.raises(QueryError, match="path_prefix"):
        build_filter({"path_contains": "shoes"}, dialect=SERVER_2_3)


def test_prefixes_are_exact_ranges_on_every_backend():
    for dialect in (LITE, SERVER_2_3, SERVER):
        assert build_filter({"path_prefix": "a_b%"}, dialect=dialect) == '(path >= "a_b%" and path < "a_b&")'
    assert build_filter({"path_prefix": ""}) == 'path >= ""'
    assert build_filter({"path_prefix": "a\ud7ff"}) == '(path >= "a\ud7ff" and path < "a\ue000")'


def test_dialect_from_server_version():
    assert dialect_for("milvus_lite-3.2.2") is LITE
    assert dialect_for("v2.3.5-lite") is SERVER_2_3
    assert dialect_for("v2.5.1") is SERVER
    assert dialect_for("") is SERVER


@pytest.mark.parametrize(
    "where, message",
    [
        ({"colour": "red"}, "Unknown filter key 'colour'"),
        ({'category"] == "x" or meta["a': "x"}, "plain metadata name"),
        ({"min_width": "300"}, "finite number"),
        ({"min_width": float("nan")}, "finite number"),
        ({"width": 10.5}, "whole number"),
        ({"min_height": True}, "finite number"),
        ({"path_prefix": 3}, "needs a string"),
        ({"category": {"$ne": 1}}, "strings, numbers or booleans"),
        ({"category": []}, "empty list"),
    ],
)
def test_bad_filters_are_refused_with_a_reason(where, message):
    with pytest.raises(QueryError, match=re.escape(message)):
        build_filter(where, metadata_keys=["category"])


def test_combine_keeps_each_expression_in_its_parentheses():
    assert combine("", None) == ""
    assert combine('meta["category"] == "hat"') == 'meta["category"] == "hat"'
    assert combine("a == 1", "b == 2 or c == 3") == "(a == 1) and (b == 2 or c == 3)"


TYPES = {
    "year": "int",
    "price": "float",
    "in_stock": "bool",
    "code": "text",
    "tags": "list[text]",
    "sizes": "list[int]",
}


def test_values_are_coerced_to_the_stored_column_types():
    assert build_filter({"year": "2021"}, metadata_types=TYPES) == 'meta["year"] == 2021'
    assert build_filter({"year": ["2020", 2021]}, metadata_types=TYPES) == (
        '(meta["year"] == 2020 or meta["year"] == 2021)'
    )
    assert build_filter({"price": "12.5"}, metadata_types=TYPES) == 'meta["price"] == 12.5'
    assert build_filter({"in_stock": "true"}, metadata_types=TYPES) == 'meta["in_stock"] == true'
    assert build_filter({"code": 7}, metadata_types=TYPES) == 'meta["code"] == "7"'
    assert build_filter({"tags": "red"}, metadata_types=TYPES) == 'json_contains(meta["tags"], "red")'
    assert build_filter({"sizes": "38"}, metadata_types=TYPES) == 'json_contains(meta["sizes"], 38)'
    assert build_filter({"meta.year": "1999"}, metadata_types=TYPES) == 'meta["year"] == 1999'
    for value in HOSTILE:  # text columns keep hostile values as exact literals
        assert (
            build_filter({"code": value}, metadata_types=TYPES) == f'meta["code"] == {string_literal(value)}'
        )


@pytest.mark.parametrize(
    ("where", "fragments"),
    [
        ({"year": "twenty"}, ["'year'", "int", "'twenty'"]),
        ({"year": "2021 or 1==1"}, ["'year'", "int", "'2021 or 1==1'"]),
        ({"price": "cheap"}, ["'price'", "float", "'cheap'"]),
        ({"in_stock": "maybe"}, ["'in_stock'", "bool", "'maybe'"]),
        ({"sizes": "L"}, ["'sizes'", "list[int]", "'L'"]),
    ],
)
def test_a_value_the_type_cannot_hold_names_column_type_and_value(where, fragments):
    with pytest.raises(QueryError) as caught:
        build_filter(where, metadata_types=TYPES)
    assert all(fragment in str(caught.value) for fragment in fragments), str(caught.value)
