"""Run tables: the results table, comparison across run folders, and the plots."""

from __future__ import annotations

import json

from PIL import Image

from mmrag_lab.evaluation import RankedQuery, summarize
from mmrag_lab.evaluation.records.run_tables import (
    compare_runs,
    plot_recall_curve,
    plot_rerank,
    results_table,
)


def _metrics(hit_first: bool) -> dict:
    ranking = ("t", "x") if hit_first else ("x", "t")
    queries = [
        RankedQuery("1", ranking, ("t",), category="dress"),
        RankedQuery("2", ("t",), ("t",), category="shirt"),
    ]
    return {"retrieval": summarize(queries, ks=(1, 5), map_ks=(5,), subset_ks=())}


def test_results_table_lists_every_scope_in_percent():
    table = results_table(_metrics(hit_first=False))
    assert table.columns == ("stage", "scope", "queries", "recall@1", "recall@5", "map@5")
    rows = {row[1]: row for row in table.rows}
    assert rows["all"][2:] == (2, 50.0, 100.0, 75.0)
    assert rows["dress"][3] == 0.0 and rows["shirt"][3] == 100.0
    assert rows["category average"][3] == 50.0
    assert "| retrieval | all | 2 | 50.00 | 100.00 | 75.00 |" in table.to_markdown()
    assert table.to_csv().splitlines()[0] == "stage,scope,queries,recall@1,recall@5,map@5"


def test_compare_runs_reads_folders_and_takes_the_final_stage(tmp_path):
    a, b = _metrics(hit_first=False), _metrics(hit_first=True)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "metrics.json").write_text(json.dumps(a))
    reranked = dict(a, reranked=b["retrieval"])
    table = compare_runs(tmp_path / "a", tmp_path / "a" / "metrics.json", labels=("old", "new"))
    assert table.rows[1] == ("recall@1", 50.0, 50.0, 0.0)
    table = compare_runs(tmp_path / "a", type("Run", (), {"metrics": reranked})())
    assert table.columns == ("metric", "A", "B", "B - A")
    assert table.rows[1] == ("recall@1", 50.0, 100.0, 50.0)


def test_plots_are_written_as_png(tmp_path):
    metrics = dict(_metrics(False), reranked=_metrics(True)["retrieval"])
    plot_recall_curve(metrics, tmp_path / "recall.png")
    plot_rerank(metrics, {"improved": 1, "worsened": 0, "unchanged": 1}, tmp_path / "rerank.png")
    for name in ("recall.png", "rerank.png"):
        with Image.open(tmp_path / name) as im:
            assert im.format == "PNG" and im.width > 300


def test_a_rerank_row_where_every_query_fell_back_says_nothing_was_reranked():
    summary = summarize([RankedQuery("q", ("a", "b"), ("a",))], ks=(1,), map_ks=(), subset_ks=())
    metrics = {"retrieval": summary, "reranked": summary, "rerank": {"n_queries": 1, "n_fallback": 1}}
    assert results_table(metrics).rows[1][0].startswith("reranked: NOTHING reranked (all 1 fell back")
    metrics["rerank"] = {"n_queries": 4, "n_fallback": 1}
    assert results_table(metrics).rows[1][0] == "reranked (1 of 4 fell back to retrieval order)"
    metrics["rerank"] = {"n_queries": 4, "n_fallback": 0}
    assert results_table(metrics).rows[1][0] == "reranked"


def test_the_untrained_mark_reaches_the_markdown_and_the_csv():
    summary = summarize([RankedQuery("q", ("a", "b"), ("a",))], ks=(1,), map_ks=(), subset_ks=())
    table = results_table({"retrieval": summary, "untrained": True})
    assert "UNTRAINED" in table.to_markdown().splitlines()[0]
    assert table.to_csv().splitlines()[0].endswith(",untrained") and table.rows[0][-1] == "UNTRAINED"
    assert "UNTRAINED" not in results_table({"retrieval": summary}).to_markdown()
