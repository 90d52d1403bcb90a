"""Keywords at search on real Milvus Lite: BM25 fused with the query by Milvus's hybrid_search."""

from __future__ import annotations

import uuid

import pytest

from mmrag_lab.config import Config
from mmrag_lab.errors import QueryError
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.retrieval.fusion import Fusion
from mmrag_lab.retrieval.query import search
from mmrag_lab.store.vector_store import Store
from tests.retrieval.hybrid_corpus import KEYWORD, make_corpus

INLINE = IngestOptions(workers=0)  # decode in this process, no worker processes


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, sample_dir, tiny_encoder):
    folder = tmp_path_factory.mktemp("hybrid")
    images, sidecar, named = make_corpus(sample_dir, folder)
    cfg = Config.load(env={}, milvus_uri=str(folder / "lite.db"), collection=f"h_{uuid.uuid4().hex[:8]}",
                      encoder="tiny", weights="untrained", device="cpu")  # fmt: skip
    ingest(images, config=cfg, encoder=tiny_encoder, metadata=sidecar, options=INLINE, progress=False,
           text_fields="title")  # fmt: skip
    with Store.open(cfg) as store:
        yield cfg, store, named


def _search(corpus, **kwargs):
    cfg, store, named = corpus
    return search(config=cfg, store=store, **kwargs)


def test_weighted_one_is_bm25_alone_and_puts_the_only_keyword_row_first(corpus):
    _, _, named = corpus
    results = _search(corpus, image=named["a"], keywords=KEYWORD, fusion="weighted:1", k=5)
    assert results[0].path == str(named["keyword"])
    assert results[0].found_by["keywords"]["rank"] == 1 and results[0].found_by["keywords"]["score"] > 0
    assert all("keywords" not in hit.found_by for hit in results[1:])  # no other row holds the word
    assert results.query.fusion == "weighted:1"


def test_rrf_puts_the_keyword_row_in_the_top_three_and_says_who_found_each_hit(corpus):
    _, _, named = corpus
    results = _search(corpus, image=named["a"], keywords=KEYWORD, k=5)
    assert str(named["keyword"]) in results.paths[:3]
    assert all(hit.found_by for hit in results)
    dense = [hit for hit in results if list(hit.found_by) == ["dense"]]  # found by the vector alone
    assert [hit.found_by["dense"]["rank"] for hit in dense] == sorted(
        h.found_by["dense"]["rank"] for h in dense
    )


def test_keywords_alone_are_plain_bm25_with_positive_scores(corpus):
    _, _, named = corpus
    results = _search(corpus, keywords=KEYWORD, k=5)
    assert results.query.mode == "keywords" and results.paths == [str(named["keyword"])]
    assert results[0].score > 0  # Milvus Lite reports BM25 negated; the store turns it round
    words = _search(corpus, keywords="plain photo", k=30)
    assert len(words) == 17 and str(named["keyword"]) not in words.paths


def test_where_applies_to_both_requests(corpus):
    _, _, named = corpus
    results = _search(corpus, image=named["a"], keywords=KEYWORD, k=5, where={"path_contains": "twin"})
    assert results.paths and all("twin" in path for path in results.paths)
    assert str(named["keyword"]) not in results.paths


def test_a_sidecar_change_changes_the_text(corpus, tmp_path, tiny_encoder):
    cfg, store, named = corpus
    sidecar = tmp_path / "new.csv"
    sidecar.write_text(f"file,title\np03.jpg,now a {KEYWORD} too\n", encoding="utf-8")
    ingest(
        named["a"].parent, config=cfg, encoder=tiny_encoder, metadata=sidecar, options=INLINE, progress=False
    )
    try:
        found = _search(corpus, keywords=KEYWORD, k=5).paths
        assert sorted(found) == sorted([str(named["keyword"]), str(named["a"].parent / "p03.jpg")])
    finally:
        sidecar.write_text("file,title\np03.jpg,plain photo p03\n", encoding="utf-8")
        ingest(
            named["a"].parent,
            config=cfg,
            encoder=tiny_encoder,
            metadata=sidecar,
            options=INLINE,
            progress=False,
        )


@pytest.mark.parametrize("spec", ["weighted:2", "weighted", "rrf:0", "max", 3])
def test_a_bad_fusion_is_refused_with_the_forms_it_takes(spec):
    with pytest.raises(QueryError, match="weighted:W"):
        Fusion.parse(spec)


def test_keywords_on_a_collection_without_a_text_field_say_how_to_add_one(tmp_path, sample_dir, tiny_encoder):
    cfg = Config.load(env={}, milvus_uri=str(tmp_path / "old.db"), collection="old", encoder="tiny",
                      weights="untrained", device="cpu")  # fmt: skip
    ingest(sample_dir, config=cfg, encoder=tiny_encoder, options=INLINE, progress=False)
    with pytest.raises(QueryError, match="mmrag migrate --text-fields"):
        search(keywords="dress", config=cfg)
    assert (
        len(search(text="a dress", config=cfg, encoder=tiny_encoder)) == 9
    )  # the old collection still works
