"""``mmrag eval`` end to end on the bundled sample in Milvus Lite, with the tiny untrained encoder.

The written rankings are re-scored here with the metric functions and must agree with metrics.json; the
reranker A/B runs against the local OpenAI-protocol server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from openai_stub import OpenAIStub

import mmrag_lab
from mmrag_lab.cli import main
from mmrag_lab.config import Config
from mmrag_lab.evaluation import (
    EvalProtocol,
    average_precision_at_k,
    compare_runs,
    load_run,
    recall_at_k,
    write_jsonl,
)
from mmrag_lab.evaluation.inputs.folders import folder_queries
from mmrag_lab.evaluation.inputs.querysets import Query
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest

SECRET = "milvus-token-canary-3b9f"
KEY = "sk-canary-eval-5d1e"


@pytest.fixture(scope="module")
def collection(tmp_path_factory, sample_dir, tiny_encoder) -> Config:
    """The 40 sample photos ingested once into a Milvus Lite file."""
    folder = tmp_path_factory.mktemp("eval_store")
    cfg = Config.load(
        env={}, milvus_uri=str(folder / "eval.db"), collection="sample", encoder="tiny", weights="untrained",
        device="cpu", cache_dir=str(folder / "cache"),
    )  # fmt: skip
    ingest(sample_dir, config=cfg, encoder=tiny_encoder, options=IngestOptions(workers=0), progress=False)
    return cfg


def _cli_args(cfg: Config, queries, out, *extra) -> list[str]:
    return ["eval", str(queries), "--uri", cfg.milvus_uri, "--collection", cfg.collection, "--encoder", "tiny",
            "--weights", "untrained", "--device", "cpu", "--out", str(out), "--no-progress", *extra]  # fmt: skip


def _rescore(records: list[dict], field: str, ks, map_ks) -> dict[str, float]:
    """Mean Recall@K and AP@K of the rankings as written, computed from scratch."""
    out = {}
    for k in ks:
        out[f"recall@{k}"] = sum(recall_at_k(r[field], r["targets"], k) for r in records) / len(records)
    for k in map_ks:
        out[f"map@{k}"] = sum(average_precision_at_k(r[field], r["targets"], k) for r in records) / len(
            records
        )
    return out


@pytest.mark.slow
def test_mmrag_eval_subprocess_writes_a_run_whose_rankings_reproduce_its_metrics(
    collection, sample_dir, tiny_encoder, tmp_path
):
    queries = write_jsonl(folder_queries(sample_dir), tmp_path / "queries.jsonl")
    out = tmp_path / "run"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "MPLBACKEND": "Agg", "MMRAG_MILVUS_TOKEN": SECRET}
    proc = subprocess.run(
        [sys.executable, "-m", "mmrag_lab.cli", *_cli_args(collection, queries, out, "-k", "1", "5", "10")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "UNTRAINED" in proc.stdout and "| retrieval | all | 10 |" in proc.stdout
    for name in ("config.json", "encoder.json", "metrics.json", "rankings.jsonl", "results.csv", "results.md",
                 "recall_at_k.png"):  # fmt: skip
        assert (out / name).is_file(), name
    assert not any(SECRET in p.read_text(errors="ignore") for p in out.iterdir() if p.suffix != ".png")

    run = load_run(out)
    assert run.encoder["untrained"] is True
    assert run.encoder["fingerprint"] == tiny_encoder.info.fingerprint
    assert run.config["milvus_token"] == "***" and run.config["evaluation"]["ks"] == [1, 5, 10]
    assert len(run.rankings) == 10
    for rec in run.rankings:
        assert rec["reference_id"] not in rec["ranking"]
        assert len(rec["ranking"]) == 39 and len(rec["targets"]) == 3
        assert rec["scores"] == sorted(rec["scores"], reverse=True)
        ranks = {t: rec["ranking"].index(t) + 1 for t in rec["targets"]}
        assert rec["target_ranks"] == ranks and rec["best_target_rank"] == min(ranks.values())
    overall = run.metrics["retrieval"]["overall"]
    assert _rescore(run.rankings, "ranking", (1, 5, 10), (5, 10, 25, 50)) == pytest.approx(overall)
    for category, values in run.metrics["retrieval"]["per_category"].items():
        rows = [r for r in run.rankings if r["category"] == category]
        assert _rescore(rows, "ranking", (1, 5, 10), (5, 10, 25, 50)) == pytest.approx(values)


def _cirr_file(sample_dir: Path, path: Path) -> Path:
    """A CIRR-format caption file over the sample: reference, a same-class target, the class as img_set."""
    entries = []
    for i, folder in enumerate(sorted(p for p in sample_dir.iterdir() if p.is_dir())):
        names = sorted(f.stem for f in folder.glob("*.jpg"))
        target = names[1] if i else "dev-0-0-img9"  # the first query's target is not stored
        entries.append({"pairid": i, "reference": names[0], "target_hard": target, "caption": f"a {folder.name}",
                        "img_set": {"id": i, "members": names}})  # fmt: skip
    path.write_text(json.dumps(entries))
    return path


def test_cirr_format_subset_metric_missing_target_and_kept_reference(
    collection, sample_dir, tmp_path, capsys
):
    captions = _cirr_file(sample_dir, tmp_path / "cap.rc2.val.json")
    assert main(_cli_args(collection, captions, tmp_path / "a")) == 0
    assert "9 of 10 queries scored" in capsys.readouterr().out
    run = load_run(tmp_path / "a")
    missing = run.metrics["retrieval"]["missing"]
    assert missing["skipped_queries"] == ["0"] and missing["n_missing_targets"] == 1
    scored = [r for r in run.rankings if r["targets"]]
    for rec in scored:
        assert len(rec["subset"]) == 3 and rec["reference_id"] not in rec["subset"]
        # Every member is in the full ranking here, so the subset order must be the ranking's order.
        assert rec["subset"] == [c for c in rec["ranking"] if c in set(rec["subset"])]
    for k in (1, 2, 3):
        want = sum(recall_at_k(r["subset"], r["targets"], k) for r in scored) / len(scored)
        assert run.metrics["retrieval"]["overall"][f"recall_subset@{k}"] == pytest.approx(want)
    assert run.metrics["retrieval"]["overall"]["recall_subset@3"] == 1.0

    assert main(_cli_args(collection, captions, tmp_path / "b", "--keep-reference", "--missing", "miss")) == 0
    kept = load_run(tmp_path / "b")
    assert kept.metrics["retrieval"]["n_evaluated"] == 10
    assert all(r["reference_id"] in r["ranking"] and len(r["subset"]) == 4 for r in kept.rankings)


def test_unreadable_query_image_is_reported_and_the_rest_are_scored(
    collection, sample_dir, tiny_encoder, tmp_path
):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    queries = folder_queries(sample_dir)[:3] + [Query("bad", str(broken), "a hat", ("x",))]
    run = mmrag_lab.evaluate(queries, config=collection, encoder=tiny_encoder)  # the package is callable
    failed = run.metrics["queries"]["failed_query_images"]
    assert list(failed) == ["bad"] and "broken.jpg" in failed["bad"]
    assert run.metrics["retrieval"]["n_evaluated"] == 3 and run.out_dir is None


def test_circo_with_a_coco_id_table_and_fashioniq_one_category(collection, sample_dir, tmp_path):
    folders = sorted(p for p in sample_dir.iterdir() if p.is_dir())
    files = [sorted(f.name for f in folder.glob("*.jpg")) for folder in folders]
    ids = {name: 1000 + i for i, name in enumerate(n for names in files for n in names)}
    info = {"images": [{"id": i, "file_name": name} for name, i in ids.items()]}
    (tmp_path / "image_info.json").write_text(json.dumps(info))
    circo = [{"id": q, "reference_img_id": ids[names[0]], "target_img_id": ids[names[1]], "relative_caption": "same",
              "shared_concept": "", "gt_img_ids": [ids[n] for n in names[1:]]} for q, names in enumerate(files)]  # fmt: skip
    (tmp_path / "val.json").write_text(json.dumps(circo))
    extra = ("--kind", "circo", "--coco-info", str(tmp_path / "image_info.json"))
    assert main(_cli_args(collection, tmp_path / "val.json", tmp_path / "circo", *extra)) == 0
    run = load_run(tmp_path / "circo")
    assert run.metrics["queries"]["match"]["n_missing_targets"] == 0
    assert all(len(r["targets"]) == 3 for r in run.rankings)
    overall = run.metrics["retrieval"]["overall"]
    # CIRCO keeps the reference by default; recall@K counts target_img_id only, recall_any@K any target.
    assert all(r["reference_id"] in r["ranking"] for r in run.rankings)
    rescored = _rescore(run.rankings, "ranking", (1, 5, 10, 50), (5, 10, 25, 50))
    assert {k.replace("recall", "recall_any"): v for k, v in rescored.items() if k.startswith("recall")} == (
        pytest.approx({k: v for k, v in overall.items() if k.startswith("recall_any")})
    )
    assert {k: v for k, v in rescored.items() if k.startswith("map")} == pytest.approx(
        {k: v for k, v in overall.items() if k.startswith("map")}
    )

    captions = tmp_path / "captions"
    captions.mkdir()
    for category, names in (("dress", files[0]), ("shirt", files[5])):
        entries = [{"candidate": Path(names[0]).stem, "target": Path(n).stem, "captions": ["is it", "too"]}
                   for n in names[1:]]  # fmt: skip
        (captions / f"cap.{category}.val.json").write_text(json.dumps(entries))
    extra = ("--kind", "fashioniq", "--category", "dress", "-k", "5", "10", "50")
    assert main(_cli_args(collection, captions, tmp_path / "fiq", *extra)) == 0
    fiq = load_run(tmp_path / "fiq")
    assert list(fiq.metrics["retrieval"]["per_category"]) == ["dress"]
    assert [r["instruction"] for r in fiq.rankings] == ["Is it and too"] * 3
    assert all(r["reference_id"] in r["ranking"] for r in fiq.rankings)  # CLIP4Cir keeps the reference


def test_rerank_ab_against_the_local_openai_server(collection, sample_dir, tmp_path, monkeypatch, capsys):
    queries = folder_queries(sample_dir)
    for i in (0, 3):  # these two get a reply without a ranking, so they fall back
        queries[i] = Query(queries[i].query_id, queries[i].image, queries[i].instruction + " [[stub:non_json]]",
                           queries[i].targets, category=queries[i].category)  # fmt: skip
    path = write_jsonl(queries, tmp_path / "q.jsonl")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("MMRAG_CACHE_DIR", str(tmp_path / "cache"))
    with OpenAIStub() as stub:
        args = ["--rerank", "--llm-base-url", stub.base_url, "--price-in", "2.5", "--price-out", "10"]
        assert main(_cli_args(collection, path, tmp_path / "r1", *args)) == 0
        assert main(_cli_args(collection, path, tmp_path / "r2", *args)) == 0
        requests = len(stub.requests)
    assert "reranker: 2 fallback(s)" in capsys.readouterr().out
    first, second = load_run(tmp_path / "r1"), load_run(tmp_path / "r2")
    stats = first.metrics["rerank"]
    assert stats["n_fallback"] == 2 and stats["n_queries"] == 10 and stats["n_cached"] == 0
    assert stats["usage"]["prompt_tokens"] > 0 and stats["usage"]["completion_tokens"] > 0
    billed = stats["billed_usage"]
    assert stats["cost_usd"] == pytest.approx(
        (billed["prompt_tokens"] * 2.5 + billed["completion_tokens"] * 10) / 1e6
    )
    for rec in first.rankings:
        fell_back = rec["rerank"]["fallback_reason"] is not None
        # The stub ranks the 9 candidates in reverse; a fallback keeps the retrieval order.
        head = rec["ranking"][:9] if fell_back else rec["ranking"][:9][::-1]
        assert rec["reranked"] == head + rec["ranking"][9:]
        assert fell_back == ("non_json" in rec["instruction"])
    ks, map_ks = first.config["evaluation"]["ks"], first.config["evaluation"]["map_ks"]
    assert _rescore(first.rankings, "reranked", ks, map_ks) == pytest.approx(
        first.metrics["reranked"]["overall"]
    )
    assert sum(first.metrics["rank_moves"].values()) == 10
    assert (tmp_path / "r1" / "rerank.png").is_file()
    # The second run is served from the reply cache: only the two fallbacks are asked again.
    assert second.metrics["rerank"]["n_cached"] == 8 and requests == 12
    assert second.metrics["reranked"] == first.metrics["reranked"]
    table = compare_runs(tmp_path / "r1", tmp_path / "r2", labels=("first", "cached"))
    assert all(row[3] == 0 for row in table.rows)
    assert not any(
        KEY in p.read_text(errors="ignore") for p in (tmp_path / "r1").iterdir() if p.suffix != ".png"
    )


NOTEBOOK = Path(__file__).resolve().parents[3] / "notebooks" / "05_evaluate.ipynb"


def test_notebook_is_committed_without_outputs():
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    assert cells[1]["metadata"]["tags"] == ["parameters"]
    assert all(
        not c.get("outputs") and c.get("execution_count") is None for c in cells if c["cell_type"] == "code"
    )


@pytest.mark.slow
def test_notebook_05_runs_headless_and_records_its_key_figures(tmp_path, monkeypatch):
    import papermill

    from mmrag_lab.workbench.runtime.recorder import load_record

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("MMRAG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    with OpenAIStub() as stub:
        params = dict(URI=str(tmp_path / "nb.db"), COLLECTION="nb", ENCODER="tiny", WEIGHTS="untrained",
                      DEVICE="cpu", RUN_DIR=str(tmp_path), RERANK=True, BASE_URL=stub.base_url,
                      PRICE_IN=2.5, PRICE_OUT=10.0, K=[1, 5, 10])  # fmt: skip
        papermill.execute_notebook(str(NOTEBOOK), str(tmp_path / "05_evaluate.ipynb"), parameters=params,
                                   cwd=str(tmp_path), progress_bar=False)  # fmt: skip
        asked = len(stub.requests)
    recorded = load_record(tmp_path, "05_evaluate")["evaluation"]
    metrics = json.loads((tmp_path / "05_evaluate-run" / "metrics.json").read_text())
    assert recorded["retrieval"] == pytest.approx(metrics["retrieval"]["overall"])
    assert recorded["reranked"] == pytest.approx(metrics["reranked"]["overall"])
    assert set(recorded["retrieval"]) >= {"recall@1", "recall@5", "recall@10", "map@5"}
    assert recorded["untrained"] is True and recorded["n_evaluated"] == 10 and asked == 10
    assert recorded["rerank"]["n_fallback"] == 0 and recorded["rerank"]["usage"]["prompt_tokens"] > 0
    assert recorded["rerank"]["cost_usd"] > 0 and len(recorded["worst"]) == 3
    feedback = load_record(tmp_path, "05_evaluate")["feedback"]
    assert [entry["round"] for entry in feedback["rounds"]] == [1, 2]
    assert (tmp_path / "05_evaluate-run-feedback" / "round-2" / "metrics.json").is_file()
    figures = load_record(tmp_path, "05_evaluate")["figures"]
    assert set(figures) == {"recall", "rerank", "worst"}
    assert all(f["untrained_mark"] and (tmp_path / f["png"]).is_file() for f in figures.values())
    assert figures["worst"]["images"] >= 3 * 7


@pytest.mark.slow
def test_subset_scores_from_stored_vectors_on_lite_and_server(store_uri, sample_dir, tiny_encoder):
    cfg = store_uri.config()
    ingest(sample_dir, config=cfg, encoder=tiny_encoder, options=IngestOptions(workers=0), progress=False)
    queries = []
    for folder in sorted(p for p in sample_dir.iterdir() if p.is_dir()):
        names = sorted(f.stem for f in folder.glob("*.jpg"))
        queries.append(Query(folder.name, names[0], f"a {folder.name}", (names[1],), subset=tuple(names)))
    run = mmrag_lab.evaluate(
        queries, config=cfg, encoder=tiny_encoder, protocol=EvalProtocol(subset_ks=(1, 2, 3))
    )
    for rec in run.rankings:
        # Members scored from their stored vectors rank as the search ranked them.
        assert rec["subset"] == [c for c in rec["ranking"] if c in set(rec["subset"])]
    assert run.metrics["retrieval"]["overall"]["recall_subset@3"] == 1.0


def test_evaluate_takes_its_protocol_keywords_for_one_more_release(collection, sample_dir, tiny_encoder):
    queries = folder_queries(sample_dir)
    new = mmrag_lab.evaluate(
        queries,
        config=collection,
        encoder=tiny_encoder,
        protocol=mmrag_lab.EvalProtocol(ks=(1, 3), ties="pessimistic"),
        progress=False,
    )
    with pytest.warns(
        DeprecationWarning, match=r"evaluate\(ks=\.\.\., ties=\.\.\.\) is deprecated .* protocol="
    ):
        old = mmrag_lab.evaluate(
            queries, config=collection, encoder=tiny_encoder, ks=(1, 3), ties="pessimistic", progress=False
        )
    assert old.metrics["retrieval"]["overall"] == new.metrics["retrieval"]["overall"]
    assert (
        old.metrics["settings"] == new.metrics["settings"]
        and new.metrics["settings"]["ties"] == "pessimistic"
    )
    assert "recall@3" in new.metrics["retrieval"]["overall"]
