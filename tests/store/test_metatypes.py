"""Sidecar column types: inferred from CSV text or JSON values, widened when cells disagree, used to coerce."""

from __future__ import annotations

import pytest

from mmrag_lab.store.metatypes import CoercionError, coerce, coerce_row, infer_types, type_of, widen


@pytest.mark.parametrize(
    ("cell", "kind"),
    [("2021", "int"), ("-3", "int"), ("12.5", "float"), ("1e3", "float"), ("true", "bool"), ("False", "bool"),
     ("007", "text"), ("0.5", "float"), ("00.5", "text"), ("red", "text"), ("", "text")],
)  # fmt: skip
def test_a_csv_cell_is_typed_by_its_look(cell, kind):
    assert type_of(cell, from_text=True) == kind


def test_json_values_keep_their_json_type():
    assert type_of("2021", from_text=False) == "text"
    assert [type_of(v, False) for v in (True, 3, 2.5)] == ["bool", "int", "float"]
    assert type_of([1, 2.5], False) == "list[float]" and type_of([], False) == "list[text]"
    assert type_of(["a", 1], False) == "list[text]"


def test_widening():
    assert widen(None, "int") == "int" and widen("int", None) == "int" and widen(None, None) == "text"
    assert widen("int", "float") == "float" and widen("bool", "int") == "text"
    assert widen("list[int]", "list[float]") == "list[float]" and widen("list[int]", "int") == "text"


def test_infer_types_over_rows_widens_per_column():
    rows = [{"year": "2021", "price": "3", "code": "007"}, {"year": "2022", "price": "3.5", "code": "12"}]
    assert infer_types(rows, from_text=True) == {"year": "int", "price": "float", "code": "text"}


def test_filter_values_are_coerced_by_the_stored_type():
    assert coerce("2021", "int", "year") == 2021 and coerce(7.0, "int", "n") == 7
    assert coerce(7, "text", "code") == "7" and coerce(True, "text", "flag") == "true"
    assert coerce("yes", "bool", "ok") is True and coerce("0", "bool", "ok") is False
    assert coerce("2.5", "list[float]", "sizes") == 2.5  # one item of a list column, as json_contains takes


@pytest.mark.parametrize(
    ("value", "kind", "what"),
    [("2021.5", "int", "an int"), ("maybe", "bool", "a bool"), ("inf", "float", "a float"),
     (True, "int", "an int"), ({"a": 1}, "text", "a text")],
)  # fmt: skip
def test_a_value_the_type_cannot_hold_names_column_type_and_value(value, kind, what):
    with pytest.raises(CoercionError, match=f"Metadata column 'c' holds {kind} values; .* is not {what}"):
        coerce(value, kind, "c")


def test_coerce_row_stores_every_value_as_its_columns_type():
    types = {"year": "int", "tags": "list[text]", "score": "float"}
    row = {"year": "2021", "tags": [1, "a"], "score": "2", "note": 5}
    assert coerce_row(row, types) == {"year": 2021, "tags": ["1", "a"], "score": 2.0, "note": "5"}
