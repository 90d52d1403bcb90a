"""``mmrag compare`` end to end: two real evaluation runs on Milvus Lite, then their comparison folder."""

from __future__ import annotations

import json

import pytest

from mmrag_lab.cli import main
from mmrag_lab.config import Config
from mmrag_lab.evaluation import load_run
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest


@pytest.fixture(scope="module")
def runs(tmp_path_factory, sample_dir, tiny_encoder):
    root = tmp_path_factory.mktemp("compare")
    uri = str(root / "lite.db")
    cfg = Config.load(env={}, milvus_uri=uri, collection="cli_compare", encoder="tiny", weights="untrained")
    ingest(sample_dir, config=cfg, encoder=tiny_encoder, options=IngestOptions(workers=0), progress=False)
    base = ["eval", str(sample_dir), "--kind", "folders", "--uri", uri, "--collection", "cli_compare",
            "--encoder", "tiny", "--weights", "untrained", "--device", "cpu", "--no-progress", "-k", "1", "5"]  # fmt: skip
    assert main([*base, "--out", str(root / "a")]) == 0
    assert main([*base, "--out", str(root / "kept"), "--keep-reference"]) == 0
    return root


def test_a_run_folder_keeps_per_query_metrics_and_its_corpus(runs):
    run = load_run(runs / "a")
    assert run.metrics["corpus"]["size"] == 40 and len(run.metrics["corpus"]["ids_sha256"]) == 64
    assert all(set(rec["metrics"]) == {"recall@1", "recall@5", "map@5", "map@10", "map@25", "map@50"}
               for rec in run.rankings)  # fmt: skip
    mean = sum(rec["metrics"]["recall@5"] for rec in run.rankings) / len(run.rankings)
    assert mean == pytest.approx(run.metrics["retrieval"]["overall"]["recall@5"])


def test_compare_writes_its_folder_and_flags_another_protocol(runs, capsys):
    out = runs / "cmp"
    code = main(["compare", str(runs / "a"), str(runs / "a"), str(runs / "kept"), "--labels", "a", "same",
                 "kept", "--out", str(out), "--resamples", "999"])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert printed.startswith("**NOT COMPARABLE**: kept vs a: protocol: exclude_reference: True vs False")
    assert "NOT comparable" in printed and f"comparison folder: {out}" in printed
    data = json.loads((out / "compare.json").read_text())
    assert data["comparable"] is False and data["untrained"] == ["a", "same", "kept"]
    same = [t for t in data["tests"] if t["run"] == "same"]
    assert all(t["difference"] == 0 for t in same)
    assert {t["p_value"] for t in same if t["scope"] == "all"} == {1.0}  # one query per class: no test there
    assert {t["p_value"] for t in same if t["scope"] != "all"} == {None}
    assert {c["check"] for c in data["checks"] if c["state"] == "MISMATCH"} == {"protocol"}
    assert [(d["run"], d["wins"] + d["ties"] + d["losses"]) for d in data["disagreements"]] == [
        ("same", 10), ("kept", 10)]  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == [
        "compare.csv", "compare.json", "compare.md", "disagree-1.png", "disagree-2.png"]  # fmt: skip


def test_compare_of_one_run_says_what_to_do(runs, capsys):
    assert main(["compare", str(runs / "a")]) == 2
    assert "at least two runs" in capsys.readouterr().err


def test_an_empty_run_folder_argument_is_refused_not_read_as_the_current_folder(runs, capsys, monkeypatch):
    monkeypatch.chdir(runs / "a")  # a real run folder: "" must not quietly mean it
    code = main(["compare", str(runs / "a"), "", "--out", str(runs / "cmp-empty")])
    err = capsys.readouterr().err
    assert code == 2 and "run folder 2 (RUN_DIR) is empty" in err
    assert not (runs / "cmp-empty").exists()
