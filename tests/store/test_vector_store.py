"""The store against a real Milvus Lite file and a real Milvus 2.3.5 server; its passing-on methods against
the parts they call."""

from __future__ import annotations

import ast
import inspect
import itertools
import textwrap
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from pymilvus import DataType, MilvusClient

from mmrag_lab.config import Config
from mmrag_lab.encoders.base import EncoderInfo
from mmrag_lab.errors import CollectionMismatchError, ConfigError
from mmrag_lab.store import vector_store
from mmrag_lab.store import writes as store_writes
from mmrag_lab.store.clients import display_uri
from mmrag_lab.store.schema import CORE_FIELDS
from mmrag_lab.store.vector_store import Store

INFO = EncoderInfo(name="tiny", dim=8, untrained=True, weights="untrained", fingerprint="f00d")


def unit_vectors(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def make_rows(vectors: np.ndarray, prefix: str = "r") -> list[dict]:
    return [
        {
            "id": f"{prefix}{i:063d}",
            "vector": vector,
            "path": f"/images/{prefix}/{i}.jpg",
            "root": "images",
            "rel_path": f"{prefix}/{i}.jpg",
            "content_hash": f"{i:064x}",
            "width": 100 + i,
            "height": 50,
            "file_size": 1000 + i,
            "meta": {"category": "shoes" if i % 2 else "hat", "title": f"item {i}"},
        }
        for i, vector in enumerate(vectors)
    ]


@pytest.fixture
def store(store_uri):
    with Store.open(store_uri.config()) as opened:
        yield opened


def test_new_collection_records_encoder_and_metadata_keys(store):
    record = store.ensure_collection(INFO, metadata_keys=["title"])
    assert (record.encoder, record.dim, record.metric, record.fingerprint) == ("tiny", 8, "COSINE", "f00d")
    store.ensure_collection(INFO, metadata_keys=["category"])
    described = store.describe()
    assert described["metadata_keys"] == ["category", "title"]
    assert described["count"] == 0 and described["untrained"] is True and described["dim"] == 8


def test_record_survives_reopening(store, store_uri):
    store.ensure_collection(INFO, metadata_keys=["title"])
    store.close()
    with Store.open(store_uri.config()) as again:
        assert again.record().metadata_keys == ("title",)
        assert again.ensure_collection(INFO).fingerprint == "f00d"


@pytest.mark.parametrize(
    "other, names",
    [
        (EncoderInfo("visualized-bge-base", 768, False, "base.pth", "beef"), ["encoder", "dim"]),
        (EncoderInfo("tiny", 16, True, "untrained", "f00d"), ["dim"]),
        (EncoderInfo("tiny", 8, True, "other.pth", "cafe"), ["fingerprint"]),
    ],
)
def test_another_encoder_is_refused_naming_both_sides(store, other, names):
    store.ensure_collection(INFO)
    with pytest.raises(CollectionMismatchError) as caught:
        store.ensure_collection(other)
    message = str(caught.value)
    assert f"dim {INFO.dim}" in message and f"dim {other.dim}" in message
    assert all(name in message for name in names)
    assert "--collection" in message


def test_another_metric_is_refused(store):
    store.ensure_collection(INFO)
    with pytest.raises(CollectionMismatchError, match="metric COSINE.*metric L2"):
        store.ensure_collection(INFO, metric="L2")


def test_foreign_collection_is_refused(store):
    client = store.client
    schema = MilvusClient.create_schema(auto_id=True)
    schema.add_field("pk", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=8)
    index = client.prepare_index_params()
    index.add_index("vector", index_type="AUTOINDEX", metric_type="COSINE")
    client.create_collection(store.collection, schema=schema, index_params=index)
    with pytest.raises(CollectionMismatchError, match="not created by mmrag_lab"):
        store.ensure_collection(INFO)


def test_insert_is_idempotent_and_queries_see_it(store):
    store.ensure_collection(INFO)
    rows = make_rows(unit_vectors(6))
    assert store.insert(rows) == 6
    assert store.insert(rows[:3]) == 3  # same ids again: replaced, never duplicated
    store.flush_and_load()
    assert store.count() == 6
    assert store.existing_ids([rows[1]["id"], rows[4]["id"], "missing"]) == {rows[1]["id"], rows[4]["id"]}
    got = store.get([rows[2]["id"]])
    assert got[0]["path"] == rows[2]["path"] and got[0]["meta"]["title"] == "item 2"
    assert sorted(row["id"] for row in store.iterate(("path",), batch_size=4)) == sorted(
        r["id"] for r in rows
    )


def test_update_fields_changes_only_those_fields_and_keeps_vectors(store, store_uri):
    store.ensure_collection(INFO)
    vectors = unit_vectors(4, seed=2)
    rows = make_rows(vectors)
    store.insert(rows)
    changes = {
        rows[1]["id"]: {"meta": {"year": 2021}},
        rows[2]["id"]: {"path": "/moved/2.jpg", "file_size": 7},
    }
    assert store.update_fields(changes) == 2
    store.flush_and_load()
    got = {
        row["id"]: row for row in store.get([r["id"] for r in rows], output_fields=["vector", *CORE_FIELDS])
    }
    assert got[rows[1]["id"]]["meta"] == {"year": 2021} and got[rows[1]["id"]]["path"] == rows[1]["path"]
    assert (got[rows[2]["id"]]["path"], got[rows[2]["id"]]["file_size"]) == ("/moved/2.jpg", 7)
    assert got[rows[2]["id"]]["meta"] == rows[2]["meta"] and got[rows[0]["id"]]["path"] == rows[0]["path"]
    for row, vector in zip(rows, vectors, strict=True):
        assert np.allclose(got[row["id"]]["vector"], vector)
    assert store.count() == 4
    assert store.supports_partial_update() == (store_uri.kind == "lite")  # 2.3.5 gets whole rows


def test_search_returns_plain_hits_with_similarity_scores(store):
    store.ensure_collection(INFO)
    vectors = unit_vectors(20, seed=1)
    rows = make_rows(vectors)
    store.insert(rows)
    store.flush_and_load()
    [hits] = store.search(vectors[3:4], k=5)
    assert hits[0]["id"] == rows[3]["id"]
    assert hits[0]["score"] == pytest.approx(1.0, abs=1e-4)
    scores = [hit["score"] for hit in hits]
    assert scores == sorted(scores, reverse=True)
    assert set(hits[0]) == {"id", "score", *CORE_FIELDS}
    expected = np.sort(vectors @ vectors[3])[::-1][:5]
    assert scores == pytest.approx(expected.tolist(), abs=1e-4)
    [filtered] = store.search(vectors[3:4], k=20, filter='meta["category"] == "hat"', output_fields=["meta"])
    assert filtered and all(hit["meta"]["category"] == "hat" for hit in filtered)
    assert len(filtered) == 10


def test_delete_removes_rows(store):
    store.ensure_collection(INFO)
    rows = make_rows(unit_vectors(5))
    store.insert(rows)
    store.delete([rows[0]["id"], rows[1]["id"]])
    store.flush_and_load()
    assert store.count() == 3
    assert store.existing_ids(r["id"] for r in rows) == {r["id"] for r in rows[2:]}


def test_large_inserts_are_split_under_the_rpc_cap(store, monkeypatch):
    store.ensure_collection(INFO)
    calls = []
    real_upsert = store.client.upsert

    def counting_upsert(collection, rows, **kwargs):
        calls.append(len(rows))
        return real_upsert(collection, rows, **kwargs)

    monkeypatch.setattr(store.client, "upsert", counting_upsert)
    monkeypatch.setattr(store_writes, "MAX_WRITE_BYTES", 2_000)
    rows = make_rows(unit_vectors(30))
    assert store.insert(rows) == 30
    assert len(calls) > 1 and sum(calls) == 30
    store.flush_and_load()
    assert store.count() == 30


def test_uri_forms():
    with pytest.raises(ConfigError, match="must end in '.db'"):
        Store.open(Config.load(env={}, milvus_uri="./vectors.sqlite"))
    assert display_uri("https://user:secret@example.com:19530") == "https://example.com:19530"


def test_hnsw_build_parameters_reach_the_backend(store_uri):
    from mmrag_lab.store.schema import HNSW_PARAMS

    with Store.open(store_uri.config(index_type="HNSW")) as store:
        store.ensure_collection(INFO)
        params = store.client.describe_index(store.collection, "vector").get("params", {})
    assert {k: int(params[k]) for k in HNSW_PARAMS} == HNSW_PARAMS


# --- a passing-on method promises what the part's method promises: same parameters, same documentation ---

# Store's passing-on methods today; the check below must find at least these many, so it cannot pass empty.
FORWARDERS_TODAY = 38


def parts_of(cls: type) -> dict[str, type]:
    """``cls``'s parts by attribute, read from its ``__init__``: each ``self.<name> = <Class>(...)``."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls.__init__)))
    module = inspect.getmodule(cls)
    parts = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)):
            continue
        [target], made_by = node.targets, node.value.func
        if (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.value.id == "self"
        ):
            if isinstance(made_by, ast.Name) and isinstance(getattr(module, made_by.id, None), type):
                parts[target.attr] = getattr(module, made_by.id)
    return parts


def forwarded_call(function) -> tuple[str, str, ast.Call] | None:
    """``(part, method, call)`` when ``function`` only does ``[return] self.<part>.<method>(...)`` with its
    own parameters as the arguments; None when it does anything more."""
    [definition] = ast.parse(textwrap.dedent(inspect.getsource(function))).body
    body = definition.body[1:] if ast.get_docstring(definition) is not None else definition.body
    if len(body) != 1 or not isinstance(body[0], (ast.Return, ast.Expr)):
        return None
    call = body[0].value
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
        return None
    holder = call.func.value
    if not (
        isinstance(holder, ast.Attribute) and isinstance(holder.value, ast.Name) and holder.value.id == "self"
    ):
        return None
    if not all(isinstance(arg, ast.Name) for arg in [*call.args, *(k.value for k in call.keywords)]):
        return None
    return holder.attr, call.func.attr, call


def forwarders(cls: type) -> dict[str, tuple[Callable[..., Any], ast.Call]]:
    """``cls``'s public methods that only pass the call on to a part: name -> (the part's method, the call)."""
    parts, found = parts_of(cls), {}
    for name, function in vars(cls).items():
        if name.startswith("_") or not inspect.isfunction(function):
            continue
        forwarded = forwarded_call(function)
        if forwarded and forwarded[0] in parts:
            found[name] = (getattr(parts[forwarded[0]], forwarded[1]), forwarded[2])
    return found


def differences(mine, theirs, call: ast.Call) -> list[str]:
    """How ``mine`` (a passing-on method) differs from ``theirs`` (the part's method it calls): each
    parameter's name, kind, default and annotation (``self`` left out), the documentation, and whether the
    call hands every parameter to the parameter of the same name."""
    ours = list(inspect.signature(mine).parameters.values())[1:]
    part = list(inspect.signature(theirs).parameters.values())[1:]
    found = []
    for here, there in itertools.zip_longest(ours, part):
        if here is None or there is None:
            found.append(
                f"parameter {(here or there).name!r} only in {'the part' if here is None else 'Store'}"
            )
            continue
        for what in ("name", "kind", "default", "annotation"):
            if getattr(here, what) != getattr(there, what):
                found.append(
                    f"{here.name}: {what} {getattr(here, what)!r} here, {getattr(there, what)!r} there"
                )
    if mine.__doc__ != theirs.__doc__:
        found.append(f"docstring differs from {theirs.__qualname__}'s (give it @_doc({theirs.__qualname__}))")
    passed = [(there.name, arg.id) for there, arg in zip(part, call.args, strict=False)]
    passed += [(keyword.arg, keyword.value.id) for keyword in call.keywords]
    found += [f"passes {value!r} as {name!r}" for name, value in passed if name != value]
    if len(passed) != len(part):
        found.append(f"passes {len(passed)} of the part's {len(part)} parameters")
    return found


class _Part:
    def get(self, ids, limit=10):
        """Rows by id."""

    def put(self, rows, *, flush=False):
        """Write rows."""


class _Front:
    def __init__(self):
        self.part = _Part()

    def get(self, ids, limit=5):
        return self.part.get(ids, limit)

    def put(self, rows, flush=False):
        """Write rows, but say it differently."""
        return self.part.put(rows, flush=flush)

    def count(self, ids):
        return len(self.part.get(ids))  # does more than pass on: not a passing-on method


def test_the_passing_on_check_finds_planted_mismatches():
    found = forwarders(_Front)
    assert set(found) == {"get", "put"}
    get = differences(_Front.get, *found["get"])
    assert "limit: default 5 here, 10 there" in get
    assert any(line.startswith("docstring differs") for line in get)
    put = differences(_Front.put, *found["put"])
    assert any(line.startswith("flush: kind") for line in put) and len(put) == 2
    [swapped] = ast.parse("self.part.get(limit, ids)").body
    assert differences(_Part.get, _Part.get, swapped.value) == [
        "passes 'limit' as 'ids'",
        "passes 'ids' as 'limit'",
    ]


def test_every_passing_on_method_keeps_the_parts_signature_and_documentation():
    found = forwarders(vector_store.Store)
    assert len(found) >= FORWARDERS_TODAY, sorted(found)
    wrong = [
        f"Store.{name} -> {target.__qualname__}: {difference}"
        for name, (target, call) in sorted(found.items())
        for difference in differences(getattr(vector_store.Store, name), target, call)
    ]
    assert not wrong, "\n".join(wrong)
