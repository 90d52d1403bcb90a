"""Inspection against a real Milvus Lite collection of the bundled sample, and the numerics on their own."""

from __future__ import annotations

import numpy as np
import pytest

from mmrag_lab.config import Config
from mmrag_lab.errors import StoreError
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.inspection import summary as inspection
from mmrag_lab.retrieval.query import search
from mmrag_lab.store.vector_store import Store
from mmrag_lab.workbench.runtime.sample import sample_metadata
from tests.retrieval.hybrid_corpus import make_corpus

INLINE = IngestOptions(workers=0)  # decode in this process, no worker processes


@pytest.fixture(scope="module")
def store(tmp_path_factory, sample_dir, tiny_encoder):
    root = tmp_path_factory.mktemp("inspect")
    config = Config.load(env={}, milvus_uri=str(root / "i.db"), collection="inspect", encoder="tiny",
                         weights="untrained", device="cpu")  # fmt: skip
    ingest(
        sample_dir,
        config=config,
        encoder=tiny_encoder,
        metadata=sample_metadata(),
        progress=False,
        options=INLINE,
    )
    with Store.open(config) as opened:
        yield opened


def test_collection_summary(store, tiny_encoder):
    summary = inspection.collection_summary(store)
    assert (summary.count, summary.dim, summary.encoder) == (40, tiny_encoder.dim, "tiny")
    assert summary.untrained and summary.metric == "COSINE"
    assert summary.metadata_keys == ("category", "title")
    markdown = summary._repr_markdown_()
    assert "| count | 40 |" in markdown and "UNTRAINED WEIGHTS" in markdown


def test_a_collection_without_text_fields_has_no_keyword_search(store):
    summary = inspection.collection_summary(store)
    assert summary.text_fields == () and summary.to_dict()["text_fields"] == []
    assert "keyword search: none (add it: mmrag migrate --text-fields title,caption" in summary.to_text()
    assert "| keyword search | none (add it: mmrag migrate" in summary._repr_markdown_()


def test_text_fields_show_as_keyword_search(tmp_path, sample_dir, tiny_encoder):
    images, sidecar, _ = make_corpus(sample_dir, tmp_path, count=6)
    config = Config.load(env={}, milvus_uri=str(tmp_path / "t.db"), collection="words", encoder="tiny",
                         weights="untrained", device="cpu")  # fmt: skip
    ingest(images, config=config, encoder=tiny_encoder, metadata=sidecar, text_fields="title", options=INLINE,
           progress=False)  # fmt: skip
    summary = inspection.collection_summary(config=config)
    assert summary.text_fields == ("title",) and summary.to_dict()["text_fields"] == ["title"]
    assert "keyword search: title (BM25)" in summary.to_text()
    assert "| keyword search | title (BM25) |" in summary._repr_markdown_()


def test_vectors_read_back_are_the_stored_ones(store, tiny_encoder):
    embeddings = inspection.load_embeddings(store)
    assert len(embeddings) == 40 and embeddings.vectors.shape == (40, tiny_encoder.dim)
    assert embeddings.untrained and not embeddings.truncated
    fresh = tiny_encoder.encode_images(embeddings.paths[:4])
    np.testing.assert_allclose(embeddings.vectors[:4], fresh, atol=1e-4)
    few = inspection.load_embeddings(store, limit=10)
    assert len(few) == 10 and few.truncated


def test_query_scores_agree_with_milvus_search(store, sample_dir):
    query = next(sample_dir.rglob("*.jpg"))
    embeddings = inspection.load_embeddings(store)
    scores = inspection.query_scores(embeddings, inspection.query_vector(store, query, "in red"))
    # The scores cover every row, the query image included: so must the search.
    results = search(
        image=query, instruction="in red", k=5, store=store, config=store.config, exclude_query=False
    )
    best = np.argsort(-scores)[:5]
    assert [embeddings.ids[i] for i in best] == [hit.id for hit in results]
    np.testing.assert_allclose(scores[best], [hit.score for hit in results], atol=1e-4)


def test_sample_paths_spread_over_the_collection(store):
    paths = inspection.sample_paths(store, n=5)
    assert len(set(paths)) == 5 and paths == sorted(paths)
    assert len(inspection.sample_paths(store, n=100)) == 40


def test_missing_collection_says_to_ingest(tmp_path):
    config = Config.load(env={}, milvus_uri=str(tmp_path / "none.db"), collection="absent")
    with Store.open(config) as empty, pytest.raises(StoreError, match="Ingest images first"):
        inspection.collection_summary(empty)


@pytest.mark.server
def test_a_server_uri_with_credentials_is_shown_without_them(milvus_server):
    uri = milvus_server.uri.replace("http://", "http://root:s3cret-pass@")
    config = Config.load(env={}, milvus_uri=uri, collection="absent_here")
    with Store.open(config) as empty, pytest.raises(StoreError, match="Ingest images first") as caught:
        inspection.collection_summary(empty)
    assert milvus_server.uri in str(caught.value) and "s3cret" not in str(caught.value)


def test_pca_matches_the_covariance_eigenvectors():
    rng = np.random.default_rng(1)
    data = rng.normal(size=(200, 6)) * np.array([5.0, 2.0, 1.0, 0.5, 0.2, 0.1])
    coords, explained = inspection.project_2d(data)
    values, vectors = np.linalg.eigh(np.cov(data, rowvar=False))
    top = vectors[:, ::-1][:, :2]
    expected = (data - data.mean(axis=0)) @ top
    for axis in range(2):
        assert abs(np.corrcoef(coords[:, axis], expected[:, axis])[0, 1]) > 0.9999
    np.testing.assert_allclose(explained, values[::-1][:2] / values.sum(), rtol=1e-6)
    again, _ = inspection.project_2d(data[::-1].copy())
    np.testing.assert_allclose(again[::-1], coords, atol=1e-9)  # same signs whatever the row order


def test_pca_of_one_row():
    coords, explained = inspection.project_2d(np.ones((1, 4)))
    assert coords.shape == (1, 2) and not explained.any()


def test_near_duplicates_match_brute_force_across_blocks():
    rng = np.random.default_rng(2)
    vectors = rng.normal(size=(700, 16)).astype(np.float32)
    vectors[650] = vectors[3] + 0.001
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"r{i}" for i in range(700)]
    embeddings = inspection.Embeddings(ids, [f"/p/{i}.jpg" for i in ids], vectors)
    pairs = inspection.near_duplicates(embeddings, top=5)
    sims = vectors @ vectors.T
    rows, cols = np.triu_indices(700, k=1)
    brute = sorted(zip(sims[rows, cols], rows, cols), key=lambda t: -t[0])[:5]
    assert [(p.id_a, p.id_b) for p in pairs] == [(f"r{a}", f"r{b}") for _, a, b in brute]
    assert (pairs[0].id_a, pairs[0].id_b) == ("r3", "r650") and pairs[0].score > 0.999
    close = inspection.near_duplicates(embeddings, top=5, min_score=0.99)
    assert [(p.id_a, p.id_b) for p in close] == [(f"r{a}", f"r{b}") for s, a, b in brute if s >= 0.99]
