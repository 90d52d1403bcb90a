"""Exact ranking is the default even where the index misses true neighbours; ``--ann`` reports how much."""

from __future__ import annotations

import numpy as np
import pytest

import mmrag_lab
from mmrag_lab.evaluation import EvalProtocol
from mmrag_lab.evaluation.inputs.folders import folder_queries
from mmrag_lab.evaluation.running.exact import VectorTable, index_recall
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.store.schema import CORE_FIELDS
from mmrag_lab.store.vector_store import Store


def _filler(store: Store, centres: np.ndarray, per_centre: int = 400, seed: int = 0) -> None:
    """Rows in a tight cloud around each query vector: every query's true neighbours are filler rows, and
    IVF's k-means splits each cloud over several lists, so probing one list misses most of them."""
    rng = np.random.default_rng(seed)
    centres = centres / np.linalg.norm(centres, axis=1, keepdims=True)
    base = np.repeat(centres, per_centre, axis=0)
    vectors = base + rng.normal(0, 0.01 / np.sqrt(centres.shape[1]), base.shape).astype(np.float32)
    defaults = {"meta": {}, "width": 0, "height": 0, "file_size": 0}
    rows = [{**{f: defaults.get(f, "") for f in CORE_FIELDS}, "id": f"filler-{i}", "path": f"/nowhere/filler-{i}.jpg",
             "vector": v} for i, v in enumerate(vectors)]  # fmt: skip
    store.insert(rows)
    store.flush_and_load()


def _rebuild_as_ivf(uri: str, collection: str, nlist: int = 256) -> None:
    """Replace the vector index by IVF_FLAT; searches then probe the default single list (nprobe 1)."""
    from pymilvus import MilvusClient

    client = MilvusClient(uri=uri)
    client.release_collection(collection)
    client.drop_index(collection, "vector")
    params = client.prepare_index_params()
    params.add_index("vector", index_type="IVF_FLAT", metric_type="COSINE", params={"nlist": nlist})
    client.create_index(collection, params, sync=True)
    client.load_collection(collection)
    client.close()


def _brute_force(store: Store, queries: np.ndarray, k: int) -> list[list[str]]:
    ids, blocks = [], []
    for rows, matrix in store.iter_vectors(()):
        ids += [r["id"] for r in rows]
        blocks.append(matrix)
    matrix = np.concatenate(blocks)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    sims = (queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ matrix.T
    return [[ids[i] for i in np.argsort(-row, kind="stable")[:k]] for row in sims]


@pytest.mark.server
def test_exact_by_default_where_ivf_with_nprobe_1_misses_neighbours(milvus_server, sample_dir, tiny_encoder):
    from mmrag_lab.config import Config

    cfg = Config.load(env={}, milvus_uri=milvus_server.uri, collection="t_ivf_exact", encoder="tiny",
                      weights="untrained", device="cpu", index_type="FLAT")  # fmt: skip
    try:
        ingest(sample_dir, config=cfg, encoder=tiny_encoder, options=IngestOptions(workers=0), progress=False)
        store = Store.open(cfg)
        queries = folder_queries(sample_dir)
        vectors = tiny_encoder.encode_queries([q.image for q in queries], [q.instruction for q in queries])
        _filler(store, vectors)
        _rebuild_as_ivf(cfg.milvus_uri, cfg.collection)
        exact = mmrag_lab.evaluate(
            queries, config=cfg, encoder=tiny_encoder, store=store, protocol=EvalProtocol(ks=(1, 5, 10))
        )
        ann = mmrag_lab.evaluate(
            queries,
            config=cfg,
            encoder=tiny_encoder,
            store=store,
            protocol=EvalProtocol(ks=(1, 5, 10), ann=True),
        )
        truth = _brute_force(store, vectors, 11)
        store.close()
    finally:
        with Store.open(cfg) as cleanup:  # the test's own collection, on the session's server
            if cleanup.exists():
                cleanup.drop()
    # The default ranking is the brute-force ranking, whatever the index does.
    for rec, want in zip(exact.rankings, truth, strict=True):
        assert rec["ranking"][:10] == [c for c in want if c != rec["reference_id"]][:10]
    recall = ann.metrics["index_recall"]
    assert recall["recall@10"] < 0.95, recall  # the index (IVF_FLAT, nprobe 1) misses neighbours
    assert "index_recall" not in exact.metrics and ann.metrics["settings"]["protocol"]["search"].startswith(
        "ann"
    )
    assert "Index recall" in ann.table().to_markdown()


def test_vector_table_search_is_brute_force_with_pools_and_metrics():
    rng = np.random.default_rng(3)
    matrix = rng.normal(size=(500, 16)).astype(np.float32)
    queries = rng.normal(size=(7, 16)).astype(np.float32)
    ids = [f"r{i}" for i in range(500)]
    for metric in ("COSINE", "IP", "L2"):
        table = VectorTable(ids, [""] * 500, [{}] * 500, matrix.copy(), metric)
        q, m = queries, matrix
        if metric == "COSINE":
            q, m = q / np.linalg.norm(q, axis=1, keepdims=True), m / np.linalg.norm(m, axis=1, keepdims=True)
        sims = -((q[:, None, :] - m[None]) ** 2).sum(-1) if metric == "L2" else q @ m.T
        pool = np.arange(0, 500, 3)
        hits = table.search(queries, 10, [None, pool] * 3 + [None], device="cpu")
        for i, row in enumerate(hits):
            allowed = pool if i % 2 and i < 6 else np.arange(500)
            want = allowed[np.argsort(-sims[i, allowed], kind="stable")[:10]]
            assert [h["id"] for h in row[:10]] == [ids[j] for j in want]
            assert [h["score"] for h in row[:10]] == pytest.approx(sims[i, want].tolist(), rel=1e-4, abs=1e-4)
    exact = [[{"id": "a"}, {"id": "b"}], [{"id": "c"}, {"id": "d"}]]
    ann = [[{"id": "b"}, {"id": "x"}], [{"id": "c"}, {"id": "d"}]]
    assert index_recall(ann, exact, [1, 2]) == {"recall@1": 0.5, "recall@2": 0.75}
