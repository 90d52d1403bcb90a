"""evaluate()'s arguments: a wrong type is one ConfigError naming the argument, before any query is read."""

from __future__ import annotations

import dataclasses

import pytest

from mmrag_lab.errors import ConfigError
from mmrag_lab.evaluation.inputs.protocol import EvalProtocol
from mmrag_lab.evaluation.inputs.querysets import Query
from mmrag_lab.evaluation.running.eval_args import check_call

GIVEN = {
    "kind": None, "loader_options": None, "config": None, "encoder": None, "store": None,
    "protocol": EvalProtocol(ks=(1, 5, 10), map_ks=(5,), subset_ks=[1]), "rerank": False, "prices": None,
    "submission": False, "out_dir": None, "rerank_options": None, "progress": True, "collection": None,
}  # fmt: skip
PROTOCOL = {field.name for field in dataclasses.fields(EvalProtocol)}


def given(**changes):
    """GIVEN with ``changes``; a field of the protocol changes the protocol given."""
    moved = {name: value for name, value in changes.items() if name in PROTOCOL}
    rest = {name: value for name, value in changes.items() if name not in PROTOCOL}
    return {**GIVEN, "protocol": dataclasses.replace(GIVEN["protocol"], **moved), **rest}


def test_good_arguments_pass(tmp_path):
    check_call(tmp_path / "queries.jsonl", GIVEN)
    check_call([Query("1", "a.jpg", "in red", ("b.jpg",))], given(ks=10, out_dir=tmp_path / "run"))
    check_call("queries.jsonl", given(prices={"input_per_1m": 2.5}, exclude_reference=False))
    check_call("queries.jsonl", {**GIVEN, "protocol": None})  # the default protocol


@pytest.mark.parametrize(
    ("queries", "name", "value", "message"),
    [
        (5, None, None, "queries must be a query file or folder .a path., or a list of Query; got int 5"),
        (["a.jpg"], None, None, "queries must be a query file or folder"),
        ("https://x/q.jsonl", None, None, "queries 'https://x/q.jsonl' is a URL"),
        ("q.jsonl", "config", {"encoder": "tiny"}, "config must be a Config"),
        ("q.jsonl", "encoder", "tiny", "encoder must be an Encoder .from load_encoder"),
        ("q.jsonl", "store", "lite.db", "store must be a Store .from Store.open"),
        ("q.jsonl", "loader_options", "split=val", "loader_options must be a dict with text keys such as"),
        ("q.jsonl", "rerank", "yes", "rerank must be True or False"),
        ("q.jsonl", "exclude_reference", "no", "exclude_reference must be True or False or None"),
        ("q.jsonl", "kind", 3, "kind must be a text"),
        ("q.jsonl", "out_dir", "s3://bucket/run", "writes local files only"),
        ("q.jsonl", "ks", "x", r"ks \(a whole number or a list of them\) must be a whole number"),
        ("q.jsonl", "map_ks", [5, 0], r"map_ks \(a whole number or a list of them\)"),
        ("q.jsonl", "protocol", {"ks": 5}, "protocol must be an EvalProtocol"),
        ("q.jsonl", "feedback_rounds", -1, "feedback_rounds must be a whole number from 0"),
        ("q.jsonl", "fusion", 1, "fusion must be a text"),
    ],
)
def test_each_wrong_argument_is_named(queries, name, value, message):
    with pytest.raises(ConfigError, match=message):
        check_call(queries, GIVEN if name is None else given(**{name: value}))
