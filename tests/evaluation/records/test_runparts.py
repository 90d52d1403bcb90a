"""A run's typed parts: the retrieval stage's result and timings, and a run folder read and written back."""

from __future__ import annotations

import json

import pytest

from mmrag_lab.config import Config
from mmrag_lab.evaluation import EvalProtocol, evaluate, load_run
from mmrag_lab.evaluation.inputs.folders import folder_queries
from mmrag_lab.evaluation.inputs.protocol import describe
from mmrag_lab.evaluation.records.rundir import FILES, write_run
from mmrag_lab.evaluation.records.runparts import QueryCounts, RunMetrics, Timings
from mmrag_lab.evaluation.running.retrieval_stage import RetrievalResult, retrieval_stage
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest


@pytest.fixture(scope="module")
def collection(tmp_path_factory, sample_dir, tiny_encoder) -> Config:
    folder = tmp_path_factory.mktemp("runparts_store")
    cfg = Config.load(
        env={}, milvus_uri=str(folder / "runparts.db"), collection="sample", encoder="tiny",
        weights="untrained", device="cpu", cache_dir=str(folder / "cache"),
    )  # fmt: skip
    ingest(sample_dir, config=cfg, encoder=tiny_encoder, options=IngestOptions(workers=0), progress=False)
    return cfg


def test_the_retrieval_stage_returns_its_result_and_timings(collection, sample_dir, tiny_encoder):
    queries = folder_queries(sample_dir)
    protocol = describe(None, None, queries, ann=True, cirr_soft=False, submission=False)
    settings = {"ks": [1, 5], "map_ks": [], "protocol": protocol, "ties": "stable"}
    stage = retrieval_stage(queries, collection, tiny_encoder, None, settings, False)
    assert isinstance(stage, RetrievalResult) and len(stage.retrieved) == len(stage.matched) == 10
    assert stage.encoder is tiny_encoder and stage.metric == tiny_encoder.info.metric
    assert set(stage.index_recall) >= {"recall@1", "recall@5"}
    steps = stage.timings.as_dict()
    assert set(steps) == {"read_vectors_s", "encode_s", "exact_search_s", "ann_search_s"}
    assert all(seconds >= 0 for seconds in steps.values())


def test_a_run_reads_typed_and_as_its_files(collection, sample_dir, tiny_encoder, tmp_path):
    run = evaluate(folder_queries(sample_dir), config=collection, encoder=tiny_encoder, protocol=EvalProtocol(ks=(1, 5)),
                   out_dir=tmp_path / "run")  # fmt: skip
    assert (
        run.encoder.info == tiny_encoder.info and run.encoder["fingerprint"] == tiny_encoder.info.fingerprint
    )
    assert run.metrics.queries.n_encoded == run.metrics["queries"]["n_encoded"] == 10
    assert run.metrics.timing.encode_s == run.metrics["timing"]["encode_s"]
    assert set(run.metrics["timing"]) == {"read_vectors_s", "encode_s", "exact_search_s", "total_s"}
    assert run.metrics.rerank is None and "rerank" not in run.metrics and "index_recall" not in run.metrics
    assert run.config.evaluation["ks"] == run.config["evaluation"]["ks"] == [1, 5]
    on_disk = json.loads((tmp_path / "run" / "metrics.json").read_text(encoding="utf-8"))
    assert list(on_disk)[:2] == ["untrained", "warning"] and dict(run.metrics) == {
        k: v for k, v in on_disk.items() if k != "warning"
    }


def test_a_loaded_run_writes_back_the_same_files(collection, sample_dir, tiny_encoder, tmp_path):
    evaluate(folder_queries(sample_dir), config=collection, encoder=tiny_encoder, out_dir=tmp_path / "a")
    run = load_run(tmp_path / "a")
    run.out_dir = tmp_path / "b"
    write_run(run)
    for name in FILES:
        assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "a" / name).read_bytes(), name


def test_keys_a_part_does_not_name_are_kept():
    data = {
        "untrained": False, "retrieval": {"n_evaluated": 1}, "settings": {},
        "queries": {"n_loaded": 1, "n_encoded": 1, "failed_query_images": {}, "match": {}},
        "timing": {"encode_s": 0.5, "total_s": 1.0}, "added_later": [1, 2],
    }  # fmt: skip
    metrics = RunMetrics.from_dict(data)
    assert metrics.as_dict() == data and metrics.extra == {"added_later": [1, 2]}
    assert metrics.queries == QueryCounts(1, 1, {}, {}) and metrics.timing == Timings(
        encode_s=0.5, total_s=1.0
    )
