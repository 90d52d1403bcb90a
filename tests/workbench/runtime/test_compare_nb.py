"""06_compare headless through papermill on the bundled sample: from encoder names, from run folders, and
from two reranker endpoints (two local OpenAI-protocol servers)."""

from __future__ import annotations

import json

import pytest
from openai_stub import OpenAIStub

from mmrag_lab.workbench.runtime.notebook_runs import NOTEBOOKS, NOTEBOOKS_DIR, run_notebook
from mmrag_lab.workbench.runtime.recorder import load_record

pytestmark = pytest.mark.slow
ENCODERS = ["tiny", "tiny-clip"]  # two untrained presets, each in its own collection
BASE = {"COLLECTION": "cmp", "WEIGHTS": "untrained", "DEVICE": "cpu", "K": [1, 5, 10]}


@pytest.fixture(scope="module")
def encoders_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare_nb")
    params = {**BASE, "URI": str(root / "nb.db"), "ENCODERS": ENCODERS, "RUN_DIR": str(root / "first")}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HF_HUB_OFFLINE", "1")
        run_notebook("06_compare", root / "first", params)
        run_notebook("06_compare", root / "again", {**params, "RUN_DIR": str(root / "again")})
    return root


def test_the_notebook_is_listed_and_committed_without_outputs():
    assert "06_compare" in NOTEBOOKS
    cells = json.loads((NOTEBOOKS_DIR / "06_compare.ipynb").read_text())["cells"]
    assert cells[1]["metadata"]["tags"] == ["parameters"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in cells if c["cell_type"] == "code")


def test_from_encoder_names_it_ingests_evaluates_and_records_the_comparison(encoders_run):
    record = load_record(encoders_run / "first", "06_compare")
    assert [record[f"ingest_{i}"]["collection"] for i in (1, 2)] == ["cmp_tiny", "cmp_tiny_clip"]
    assert [record[f"ingest_{i}"]["ingested"] for i in (1, 2)] == [40, 40]
    data = record["compare"]
    assert data["labels"] == ["tiny", "tiny-clip"]
    assert data["untrained"] == data["labels"]
    states = {c["check"]: c["state"] for c in data["checks"]}
    assert {k: states[k] for k in ("query ids", "targets", "candidate set")} == dict.fromkeys(
        ("query ids", "targets", "candidate set"), "ok")  # fmt: skip
    assert data["comparable"] is ("MISMATCH" not in states.values())
    columns, rows = data["table"]["columns"], data["table"]["rows"]
    assert columns[:5] == [
        "stage",
        "scope",
        "metric",
        "tiny [UNTRAINED]",
        "tiny-clip [UNTRAINED]",
    ]
    assert {r[2] for r in rows} >= {"recall@1", "recall@5", "recall@10"} and {r[1] for r in rows} >= {
        "all",
        "dress",
    }
    overall = [t for t in data["tests"] if t["scope"] == "all"]
    assert overall and all(t["n"] == 10 and 0 <= t["p_value"] <= 1 for t in overall)
    for t in overall:
        row = next(r for r in rows if r[:3] == ["retrieval", "all", t["metric"]])
        assert t["difference"] == pytest.approx(row[5])  # the paired difference is the table's
    d = data["disagreements"][0]
    assert d["wins"] + d["ties"] + d["losses"] == 10
    folder = encoders_run / "first" / "06_compare"
    assert json.loads((folder / "compare.json").read_text())["table"] == data["table"]
    assert (folder / "run-1-tiny" / "rankings.jsonl").is_file() and (folder / "compare.md").is_file()
    assert record["figures"]["disagree"]["untrained_mark"]
    cells = json.loads((encoders_run / "first" / "06_compare.ipynb").read_text())["cells"]
    view = [
        o for o in cells[-1]["outputs"] if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert len(view) == 1  # the compare view over the two collections


def test_a_second_run_skips_what_each_collection_holds(encoders_run):
    record = load_record(encoders_run / "again", "06_compare")
    assert [(record[f"ingest_{i}"]["seen"], record[f"ingest_{i}"]["skipped"]) for i in (1, 2)] == [
        (40, 40)
    ] * 2


def test_from_run_folders_and_from_two_reranker_endpoints(encoders_run, tmp_path, monkeypatch):
    runs = [str(encoders_run / "first" / "06_compare" / name) for name in ("run-1-tiny", "run-2-tiny_clip")]
    run_notebook(
        "06_compare", tmp_path / "runs", {"RUNS": runs, "RUN_DIR": str(tmp_path / "runs"), "DEVICE": "cpu"}
    )
    assert load_record(tmp_path / "runs", "06_compare")["compare"]["labels"] == [
        "run-1-tiny",
        "run-2-tiny_clip",
    ]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    monkeypatch.setenv("MMRAG_CACHE_DIR", str(tmp_path / "cache"))
    with OpenAIStub(ranking=[0, 1, 2]) as keep, OpenAIStub(ranking=[2, 1, 0]) as flip:
        rerankers = [{"model": "m", "base_url": keep.base_url}, {"model": "m", "base_url": flip.base_url}]
        params = {**BASE, "URI": str(encoders_run / "nb.db"), "COLLECTION": "cmp_tiny", "ENCODERS": ["tiny"],
                  "RERANKERS": rerankers, "TOP_N": 3, "PRICE_IN": 2.5, "PRICE_OUT": 10.0,
                  "RUN_DIR": str(tmp_path / "rr")}  # fmt: skip
        run_notebook("06_compare", tmp_path / "rr", params)
        asked = (len(keep.requests), len(flip.requests))
    data = load_record(tmp_path / "rr", "06_compare")["compare"]
    assert asked == (10, 10) and data["comparable"] is True
    assert data["labels"] == [f"m @ {keep.base_url.split('/')[2]}", f"m @ {flip.base_url.split('/')[2]}"]
    costs = {r[2]: r[3:5] for r in data["table"]["rows"] if r[0] == "reranker"}
    assert set(costs) == {
        "latency p50 (s)",
        "latency p95 (s)",
        "tokens in",
        "tokens out",
        "cost (USD)",
        "fallbacks",
    }
    assert costs["fallbacks"] == [0, 0] and all(v > 0 for v in costs["cost (USD)"])
    assert {t["stage"] for t in data["tests"]} == {"retrieval", "reranked"}
    retrieval = [t for t in data["tests"] if t["stage"] == "retrieval" and t["scope"] == "all"]
    assert all(t["difference"] == 0 and t["p_value"] == 1 for t in retrieval)  # one retrieval, two rerankers
