"""Search on real Milvus Lite and the real Milvus server: query modes, filters, hostile values, results."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import uuid

import pytest
from openai_stub import OpenAIStub

import mmrag_lab
from mmrag_lab.config import Config
from mmrag_lab.errors import CollectionMismatchError, QueryError, StoreError
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.retrieval.query import Hit, SearchResults, search
from mmrag_lab.store.vector_store import Store
from mmrag_lab.workbench.runtime.sample import sample_metadata

INLINE = IngestOptions(workers=0)  # decode in this process, no worker processes

HOSTILE = [
    'say "hi"',
    "back\\slash",
    "trailing\\",
    "new\nline",
    "ünïcødé ☃ 日本",
    '" or 1==1',
    'dress" or meta["category"] != "x',
    "it's",
    "50%_off",
    "\x01ctl",
]


@pytest.fixture(scope="module", params=["lite", pytest.param("server", marks=pytest.mark.server)])
def corpus(request, tmp_path_factory, sample_dir, tiny_encoder):
    """The bundled sample plus one row per hostile category value, on Lite or on the server."""
    if request.param == "lite":
        uri = str(tmp_path_factory.mktemp("search") / "lite.db")
    else:
        uri = request.getfixturevalue("milvus_server").uri
    cfg = Config.load(
        env={}, milvus_uri=uri, collection=f"s_{uuid.uuid4().hex[:10]}", encoder="tiny", weights="untrained",
        device="cpu", cache_dir=str(tmp_path_factory.mktemp("cache")),
    )  # fmt: skip
    ingest(
        sample_dir,
        config=cfg,
        encoder=tiny_encoder,
        metadata=sample_metadata(),
        options=INLINE,
        progress=False,
    )
    query = sorted(sample_dir.rglob("*.jpg"))[0]
    vector = tiny_encoder.encode_images([query])[0]
    rows = [
        {"id": hashlib.sha256(value.encode()).hexdigest(), "vector": vector, "path": f"/hostile/{value}/x.jpg",
         "root": "hostile", "rel_path": f"{value}/x.jpg", "content_hash": hashlib.sha256(value.encode()).hexdigest(),
         "width": 10, "height": 10, "file_size": 1, "meta": {"category": value, "title": "hostile"}}
        for value in HOSTILE
    ]  # fmt: skip
    with Store.open(cfg) as store:
        store.insert(rows)
        store.flush_and_load()
        yield request.param, cfg, store, query
        store.drop()


def _all(corpus, **kwargs) -> SearchResults:
    _, cfg, store, query = corpus
    return search(query, k=100, config=cfg, store=store, exclude_query=False, **kwargs)


def test_the_three_query_modes(corpus, tiny_encoder):
    _, cfg, store, query = corpus
    composed = search(query, "make it red", config=cfg, store=store)
    alone = search(query, config=cfg, store=store, encoder=tiny_encoder)
    text = search(text="a red dress", config=cfg, store=store, k=5)
    assert (composed.query.mode, alone.query.mode, text.query.mode) == ("composed", "image", "text")
    assert len(composed) == len(alone) == 9 and len(text) == 5
    for results in (composed, alone, text):
        assert [hit.rank for hit in results] == list(range(1, len(results) + 1))
        scores = [hit.score for hit in results]
        assert scores == sorted(scores, reverse=True)
        assert results.untrained and results.encoder == "tiny"
    # The query image is stored too, but is left out of its own results unless asked for (the hostile
    # rows share its vector, so they still score 1.0).
    assert str(query) not in alone.paths and str(query) not in composed.paths
    kept = search(query, config=cfg, store=store, exclude_query=False)
    assert str(query) in [hit.path for hit in kept if hit.score > 0.9999] and len(kept) == 9
    assert composed.query.image_path == str(query) and composed.instruction == "make it red"


def test_keyword_filters(corpus):
    kind = corpus[0]
    dresses = _all(corpus, where={"category": "dress"})
    assert len(dresses) > 0 and {hit.meta["category"] for hit in dresses} == {"dress"}
    two = _all(corpus, where={"category": ["dress", "hat"], "min_width": 300, "max_height": 800})
    assert {hit.meta["category"] for hit in two} == {"dress", "hat"}
    assert all(hit.width >= 300 and hit.height <= 800 for hit in two)
    prefix = _all(corpus, where={"path_prefix": "/hostile/50%_off/" if kind == "lite" else "/hostile/it's"})
    assert [hit.meta["category"] for hit in prefix] == ["50%_off" if kind == "lite" else "it's"]
    by_id = _all(corpus, where={"id": [dresses[0].id, dresses[1].id]})
    assert {hit.id for hit in by_id} == {dresses[0].id, dresses[1].id}
    if kind == "lite":
        shoes = _all(corpus, where={"path_contains": "/shoes/"})
        assert shoes.paths and all("/shoes/" in path for path in shoes.paths)
    else:
        with pytest.raises(QueryError, match="path_prefix"):
            _all(corpus, where={"path_contains": "/shoes/"})


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_match_exactly_one_row(corpus, value):
    results = _all(corpus, where={"category": value})
    assert [hit.meta["category"] for hit in results] == [value]
    assert results.query.filter.startswith('meta["category"] == "')


def test_hostile_values_never_widen_the_match(corpus):
    total = len(_all(corpus))
    for value in ['" or 1==1 or "', 'x" or meta["category"] != "', "\\", '\\" or 1==1 #']:
        assert len(_all(corpus, where={"category": value})) == 0
        assert len(_all(corpus, where={"path_prefix": value})) == 0
    assert total == len(HOSTILE) + 40


def test_raw_filter_is_anded_with_keywords(corpus):
    either = 'meta["category"] == "dress" or meta["category"] == "shoes"'
    assert len(_all(corpus, filter=either)) > 0
    assert len(_all(corpus, where={"category": "hat"}, filter=either)) == 0
    with pytest.raises(StoreError):
        _all(corpus, filter="this is not an expression")


def test_bad_queries_say_what_to_do(corpus, tiny_encoder):
    _, cfg, store, query = corpus
    with pytest.raises(QueryError, match="Nothing to search"):
        search(config=cfg, store=store)
    with pytest.raises(QueryError, match="k must be"):
        search(query, k=0, config=cfg, store=store)
    with pytest.raises(QueryError, match="Unknown filter key 'colour'.*category"):
        search(query, where={"colour": "red"}, config=cfg, store=store)
    assert len(search(query, where={"meta.colour": "red"}, config=cfg, store=store)) == 0
    other = copy.copy(tiny_encoder)
    other.info = dataclasses.replace(tiny_encoder.info, fingerprint="0000000000000000")
    with pytest.raises(CollectionMismatchError, match="fingerprint"):
        search(query, config=cfg, store=store, encoder=other)
    with pytest.raises(StoreError, match="ingest"):
        search(query, config=cfg.with_overrides(collection="nothing_here"))


def test_results_convert_to_records_table_and_text(corpus):
    results = _all(corpus, where={"category": "dress"})
    records = results.to_records()
    assert json.loads(json.dumps(results.to_dict()))["hits"] == records
    assert set(records[0]) == {
        "rank",
        "id",
        "path",
        "score",
        "width",
        "height",
        "file_size",
        "meta",
        "content_hash",
        "found_by",
        "judgement",
    }
    table = results.to_table()
    assert list(table["rank"]) == [hit.rank for hit in results] and "meta.category" in table.columns
    assert "UNTRAINED" in results.to_text() and "UNTRAINED" in results._repr_html_()
    assert isinstance(results[0], Hit) and results[:2] == results.hits[:2]


def test_package_level_search_and_rerank_of_search_results(corpus, monkeypatch, tmp_path):
    kind, cfg, store, query = corpus
    if kind != "lite":
        pytest.skip("the reranker does not depend on the backend")
    results = mmrag_lab.search(query, "in red", config=cfg, store=store, where={"category": "dress"})
    with OpenAIStub() as stub:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        reranked = mmrag_lab.rerank(results, query, "in red", base_url=stub.base_url, cache_dir=tmp_path)
        assert '"category": "dress"' in stub.requests[-1].text
    assert reranked.ok and reranked.hits == results.hits[::-1]
