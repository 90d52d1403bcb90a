"""The backend contract: the same store tests against a real Milvus Lite file and the real 2.3.5 server.

What differs between backends lives in ``mmrag_lab/store/backends/``; these tests hold for every backend
that ``backend_for`` can pick, and name the facts each one must report about itself.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from pymilvus import DataType, MilvusClient

from mmrag_lab.config import Config
from mmrag_lab.encoders.base import EncoderInfo
from mmrag_lab.errors import (
    CollectionMismatchError,
    CollectionNotFoundError,
    EncoderMismatchError,
    ForeignCollectionError,
    QueryError,
    StoreError,
)
from mmrag_lab.retrieval.query import search
from mmrag_lab.store import lite_discovery
from mmrag_lab.store.backends import Backend, backend_for, display_uri
from mmrag_lab.store.filters import LITE, SERVER_2_3, build_filter
from mmrag_lab.store.vector_store import Store

INFO = EncoderInfo(name="tiny", dim=8, untrained=True, weights="untrained", fingerprint="f00d")
# What each backend must say about itself (the server is the 2.3.5 standalone of tests/conftest.py).
FACTS = {
    "lite": {"name": "milvus-lite", "label": "Milvus Lite", "dialect": LITE, "partial": True, "ef": 256},
    "server": {"name": "milvus-server", "label": "Milvus server", "dialect": SERVER_2_3, "partial": False, "ef": 128},
}  # fmt: skip
BAD_FILTER = 'meta["category"] == == "hat"'


def vectors(n: int, seed: int = 0, dim: int = 8) -> np.ndarray:
    data = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return data / np.linalg.norm(data, axis=1, keepdims=True)


def rows(n: int, dim: int = 8) -> list[dict]:
    return [
        {"id": f"{i:064d}", "vector": vector, "path": f"/images/{i}.jpg", "root": "images", "rel_path": f"{i}.jpg",
         "content_hash": f"{i:064x}", "width": 10, "height": 10, "file_size": 1, "meta": {"category": "hat"}}
        for i, vector in enumerate(vectors(n, dim=dim))
    ]  # fmt: skip


@pytest.fixture
def filled(store_uri):
    """A store with 12 rows, flushed and loaded."""
    with Store.open(store_uri.config()) as store:
        store.ensure_collection(INFO, metadata_keys=["category"])
        store.insert(rows(12))
        store.flush_and_load()
        yield store


def test_the_uri_picks_the_backend_and_it_reports_its_facts(filled, store_uri):
    facts = FACTS[store_uri.kind]
    backend = filled.backend
    assert isinstance(backend, Backend) and backend is backend_for(store_uri.uri)
    assert (backend.name, backend.label, backend.search_ef) == (facts["name"], facts["label"], facts["ef"])
    assert filled.dialect() is facts["dialect"]
    assert filled.supports_partial_update() is facts["partial"]
    assert filled.describe()["backend"] == facts["name"] and facts["label"] in repr(filled)
    assert (backend.served_file() is not None) == (store_uri.kind == "lite")


def test_the_dialect_decides_what_a_filter_may_ask(filled):
    dialect = filled.dialect()
    if dialect.infix_like:
        hits = filled.search(vectors(1), k=20, filter=build_filter({"path_contains": "1"}, dialect=dialect))[
            0
        ]
        assert sorted(hit["path"] for hit in hits) == ["/images/1.jpg", "/images/10.jpg", "/images/11.jpg"]
    else:
        with pytest.raises(QueryError, match="path_prefix"):
            build_filter({"path_contains": "1"}, dialect=dialect)
    hits = filled.search(
        vectors(1), k=20, filter=build_filter({"path_prefix": "/images/1"}, dialect=dialect)
    )[0]
    assert len(hits) == 3


def test_a_released_collection_is_loaded_again_and_the_search_answers(filled):
    expected = filled.search(vectors(1), k=3)[0]
    filled.client.release_collection(filled.collection)  # behind the store's back, like another process
    assert [hit["id"] for hit in filled.search(vectors(1), k=3)[0]] == [hit["id"] for hit in expected]


def test_a_refused_call_is_sent_once(filled, monkeypatch):
    sent = []
    real = filled.client.search
    monkeypatch.setattr(filled.client, "search", lambda *a, **kw: sent.append(1) or real(*a, **kw))
    with pytest.raises(StoreError, match="Milvus refused search"):
        filled.search(vectors(1), k=3, filter=BAD_FILTER)
    assert len(sent) == 1
    assert len(filled.search(vectors(1), k=3)[0]) == 3 and len(sent) == 2


@pytest.mark.parametrize("purpose", ["search", "evaluate", "inspect", "ingest", "migrate"])
def test_a_missing_collection_says_to_ingest_first(store_uri, purpose):
    with Store.open(store_uri.config()) as store, pytest.raises(CollectionNotFoundError) as caught:
        store.open_collection(purpose)
    message = str(caught.value)
    assert store_uri.collection in message and display_uri(store_uri.uri) in message
    assert ("ingest" in message.lower()) or purpose == "migrate"


def test_a_foreign_collection_is_refused_for_every_purpose(store_uri):
    with Store.open(store_uri.config()) as store:
        schema = MilvusClient.create_schema(auto_id=True)
        schema.add_field("pk", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=8)
        index = store.client.prepare_index_params()
        index.add_index("vector", index_type="AUTOINDEX", metric_type="COSINE")
        store.client.create_collection(store.collection, schema=schema, index_params=index)
        for purpose in ("search", "evaluate", "inspect", "ingest", "migrate"):
            with pytest.raises(ForeignCollectionError, match="not created by mmrag_lab.*--collection"):
                store.open_collection(purpose)


@pytest.mark.parametrize("purpose, advice", [("search", "leave encoder= unset"), ("evaluate", "Evaluate with"),
                                             ("ingest", "pick another collection name")])  # fmt: skip
def test_another_encoder_is_refused_naming_both_encoders(filled, purpose, advice):
    other = dataclasses.replace(INFO, name="other-encoder", fingerprint="beef")
    with pytest.raises(EncoderMismatchError, match=advice) as caught:
        filled.open_collection(purpose, other)
    message = str(caught.value)
    assert "'tiny'" in message and "'other-encoder'" in message and "fingerprint" in message
    assert isinstance(caught.value, CollectionMismatchError)
    assert filled.open_collection(purpose, INFO).fingerprint == "f00d"


def test_a_collection_dropped_behind_the_store_is_reported_then_found_missing(filled):
    filled.search(vectors(1), k=3)
    filled.client.drop_collection(filled.collection)  # the record stays cached in this process
    with pytest.raises(StoreError):
        filled.search(vectors(1), k=3)
    with pytest.raises(CollectionNotFoundError, match="Ingest images first"):
        filled.open_collection("search")


def test_a_malformed_raw_filter_reaches_the_lite_server_once(tmp_path, tiny_encoder):
    uri = str(tmp_path / "count.db")
    cfg = Config.load(
        env={}, milvus_uri=uri, collection="counted", encoder="tiny", weights="untrained", device="cpu"
    )
    with Store.open(cfg) as store:
        store.ensure_collection(tiny_encoder.info)
        store.insert(rows(4, dim=tiny_encoder.info.dim))
        store.flush_and_load()

        def searches() -> int:
            return lite_discovery.server_status(uri)["calls"].get("Search", 0)

        kwargs = dict(text="a hat", config=cfg, encoder=tiny_encoder, store=store)
        before = searches()
        search(filter='meta["category"] == "hat"', **kwargs)
        search(filter='meta["category"] == "hat"', **kwargs)
        assert searches() - before == 2  # the server counts every search it is sent
        before = searches()
        with pytest.raises(StoreError, match="Milvus refused search"):
            search(filter=BAD_FILTER, **kwargs)
        assert searches() - before == 1


def test_mmrag_lite_refuses_a_server_address_without_showing_its_credentials(capsys):
    from mmrag_lab.cli import main

    assert main(["lite", "status", "http://root:s3cret@127.0.0.1:19530"]) == 2
    message = capsys.readouterr().err
    assert "http://127.0.0.1:19530 is a Milvus server address" in message and "s3cret" not in message
