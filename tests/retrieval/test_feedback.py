"""Relevance feedback (Rocchio) on real Milvus Lite and the real 2.3.5 server: constructed vectors with a
known order, twins under untrained weights, refine rounds, and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import numpy as np
import pytest

from mmrag_lab.config import Config
from mmrag_lab.errors import QueryError
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.retrieval.feedback import Rocchio
from mmrag_lab.retrieval.query import search
from mmrag_lab.store.vector_store import Store
from tests.retrieval.hybrid_corpus import make_corpus

INLINE = IngestOptions(workers=0)  # decode in this process, no worker processes

CLI = [sys.executable, "-m", "mmrag_lab.cli"]


def mmrag(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *argv], capture_output=True, text=True, timeout=300, env=dict(os.environ))


def _unit(*parts: float, dim: int) -> np.ndarray:
    vector = np.zeros(dim, dtype=np.float32)
    vector[: len(parts)] = parts
    return vector / np.linalg.norm(vector)


@pytest.fixture(scope="module")
def constructed(tmp_path_factory, tiny_encoder):
    """Five rows with chosen vectors: r0 = e0, r1 = e0 + e1/2, r2 = e1, r3 = e1 + e2, r4 = e2 (normalised)."""
    dim = tiny_encoder.info.dim
    vectors = [_unit(1, dim=dim), _unit(1, 0.5, dim=dim), _unit(0, 1, dim=dim), _unit(0, 1, 1, dim=dim),
               _unit(0, 0, 1, dim=dim)]  # fmt: skip
    cfg = Config.load(env={}, milvus_uri=str(tmp_path_factory.mktemp("fb") / "c.db"), collection="c",
                      encoder="tiny", weights="untrained", device="cpu", index_type="FLAT")  # fmt: skip
    with Store.open(cfg) as store:
        store.ensure_collection(tiny_encoder.info)
        store.insert([{"id": f"{i:064x}", "vector": v, "path": f"/c/r{i}.jpg", "root": "c", "rel_path": f"r{i}.jpg",
                       "content_hash": f"{i:064x}", "width": 1, "height": 1, "file_size": 1, "meta": {}}
                      for i, v in enumerate(vectors)])  # fmt: skip
        store.flush_and_load()
        yield cfg, store


def _names(results) -> list[str]:
    return [os.path.basename(path)[:-4] for path in results.paths]


def test_like_alone_ranks_by_closeness_to_the_liked_row(constructed):
    cfg, store = constructed
    results = search(like=["/c/r1.jpg"], config=cfg, store=store, k=4)
    assert results.query.mode == "feedback"
    assert _names(results) == ["r0", "r2", "r3", "r4"]  # cosines to r1: .894, .447, .316, 0


def test_unlike_moves_the_query_away_and_leaves_the_row_out(constructed):
    cfg, store = constructed
    results = search(like=["/c/r1.jpg"], unlike=["/c/r2.jpg"], config=cfg, store=store, k=4)
    # q = .75 r1 - .15 r2: r3 keeps .75*.316 - .15*.707 > 0 = r4
    assert _names(results) == ["r0", "r3", "r4"]
    assert results.liked == [f"{1:064x}"] and results.unliked == [f"{2:064x}"]


def test_keep_judged_keeps_and_marks_the_judged_rows(constructed):
    cfg, store = constructed
    results = search(like=["/c/r1.jpg"], unlike=[f"{2:064x}"], config=cfg, store=store, k=5, keep_judged=True)
    marks = {name: hit.judgement for name, hit in zip(_names(results), results, strict=True)}
    assert marks["r1"] == "liked" and marks["r2"] == "unliked" and marks["r0"] == ""


def test_rocchio_weights_and_normalisation():
    query, liked, unliked = np.array([1.0, 0, 0]), np.array([[0, 1.0, 0]]), np.array([[0, 0, 1.0]])
    moved = Rocchio().move(query, liked, unliked)
    expected = np.array([1.0, 0.75, -0.15]) / np.linalg.norm([1.0, 0.75, -0.15])
    assert np.allclose(moved, expected, atol=1e-6)
    with pytest.raises(QueryError, match="like at least one row"):
        Rocchio().move(None, np.zeros((0, 3)), unliked)


def test_an_unknown_path_is_a_clear_error(constructed):
    cfg, store = constructed
    with pytest.raises(QueryError, match="is not in collection"):
        search(like=["/nowhere/x.jpg"], config=cfg, store=store)


@pytest.fixture(scope="module")
def twins(tmp_path_factory, sample_dir, tiny_encoder):
    folder = tmp_path_factory.mktemp("twins")
    images, sidecar, named = make_corpus(sample_dir, folder)
    cfg = Config.load(env={}, milvus_uri=str(folder / "lite.db"), collection=f"t_{uuid.uuid4().hex[:8]}",
                      encoder="tiny", weights="untrained", device="cpu")  # fmt: skip
    ingest(images, config=cfg, encoder=tiny_encoder, metadata=sidecar, options=INLINE, progress=False)
    return cfg, named


def test_like_a_alone_brings_its_twin_first(twins, tiny_encoder):
    cfg, named = twins
    results = search(like=[str(named["a"])], config=cfg, k=5)
    assert results[0].path == str(named["a_twin"]) and str(named["a"]) not in results.paths


def test_unlike_x_leaves_it_out_and_its_twin_does_not_rise(twins, tiny_encoder):
    cfg, named = twins
    query = named["keyword"]
    before = search(query, config=cfg, encoder=tiny_encoder, k=30)
    after = before.refine(unlike=[str(named["x"])])
    assert after.round == 1 and str(named["x"]) not in after.paths
    others = [p for p in before.paths if p != str(named["x"])]
    assert after.paths.index(str(named["x_twin"])) >= others.index(str(named["x_twin"]))
    assert [hit.score for hit in after] != [hit.score for hit in before if hit.path != str(named["x"])]


def test_refine_adds_up_judgements_and_positions_follow_the_order_given(twins, tiny_encoder):
    cfg, named = twins
    first = search(named["keyword"], config=cfg, encoder=tiny_encoder, k=6)
    second = first.refine(unlike=[1])
    assert second.round == 1 and first[0].path not in second.paths
    reranked = list(reversed(second.hits))  # as a reranker might order them
    third = second.refine(like=[1], order=reranked)
    assert third.round == 2 and third.liked == [reranked[0].id] and third.unliked == [first[0].id]
    assert reranked[0].path not in third.paths and first[0].path not in third.paths
    with pytest.raises(QueryError, match="Position 9"):
        third.refine(like=[9])


@pytest.mark.slow  # starts the CLI or a server in a subprocess
def test_the_cli_takes_like_and_unlike_and_refuses_an_unknown_path(twins):
    cfg, named = twins
    store = ["--uri", cfg.milvus_uri, "--collection", cfg.collection]
    done = mmrag("search", "--like", str(named["a"]), "--unlike", str(named["x"]), "-k", "3", "--json",
                 "--out", str(named["a"].parent.parent / "out"), *store)  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["hits"][0]["path"] == str(named["a_twin"]) and len(record["unliked"]) == 1
    bad = mmrag("search", "--like", "/nowhere/x.jpg", *store)
    assert bad.returncode == 2 and "is not in collection" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.server
def test_on_the_2_3_server_feedback_works_and_keywords_are_refused_in_one_line(
    milvus_server, sample_dir, tmp_path, tiny_encoder
):
    images, sidecar, named = make_corpus(sample_dir, tmp_path / "corpus", count=8)
    store = ["--uri", milvus_server.uri, "--collection", f"fb_{uuid.uuid4().hex[:8]}"]
    refused = mmrag("ingest", str(images), "--metadata", str(sidecar), "--text-fields", "title",
                    "--encoder", "tiny", "--weights", "untrained", "--device", "cpu", *store)  # fmt: skip
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "Milvus Lite" in refused.stderr
    assert ">= 2.5" in refused.stderr
    done = mmrag("ingest", str(images), "--encoder", "tiny", "--weights", "untrained", "--device", "cpu",
                 "--workers", "0", "--no-progress", *store)  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = ["--out", str(tmp_path / "out"), "--json", "-k", "3"]
    liked = mmrag("search", "--like", str(named["a"]), "--unlike", str(named["x"]), *out, *store)
    assert liked.returncode == 0, liked.stderr
    hits = json.loads(liked.stdout)["hits"]
    assert hits[0]["path"] == str(named["a_twin"]) and str(named["x"]) not in [h["path"] for h in hits]
    words = mmrag("search", "--text", "a shirt", "--keywords", "shirt", *out, *store)
    assert words.returncode == 2 and "Traceback" not in words.stderr
    assert len(words.stderr.strip().splitlines()) == 1 and "server >= 2.5" in words.stderr
    migrate = mmrag("migrate", "--text-fields", "title", *store)
    assert migrate.returncode == 2 and len(migrate.stderr.strip().splitlines()) == 1
