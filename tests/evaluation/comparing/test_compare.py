"""compare(): paired tests, comparability checks and disagreements, on runs built from known rankings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmrag_lab.errors import EvaluationError
from mmrag_lab.evaluation import EvalRun, compare, load_run
from mmrag_lab.evaluation.records.rundir import corpus_identity, write_run
from mmrag_lab.evaluation.records.runparts import RunConfig, RunEncoder, RunMetrics
from mmrag_lab.evaluation.running.aggregate import RankedQuery, best_target_rank, query_metrics, summarize
from mmrag_lab.evaluation.running.metrics import target_ranks

SAMPLE = sorted((Path(__file__).resolve().parents[3] / "mmrag_lab" / "sample" / "images").rglob("*.jpg"))
CORPUS = [f"c{i}" for i in range(40)]
SETTINGS = {"ks": [1, 5, 10], "map_ks": [5], "subset_ks": [1], "missing": "skip", "ties": "stable",
            "rerank": False, "rerank_top_n": None, "exclude_reference": True,
            "protocol": {"benchmark": "custom", "exclude_reference": True, "reference": "query set: reference removed",
                         "search": "exact (brute force over every vector)", "targets": "any listed target",
                         "candidates": "the whole collection", "submission": False}}  # fmt: skip


def make_run(
    target_rank: dict[str, int], *, corpus=CORPUS, name="tiny", settings=SETTINGS, instruction="in red"
):
    """A run whose query ``q`` ranks its one target ``t<q>`` at ``target_rank[q]`` (1-based)."""
    records, ranked = [], []
    for n, (qid, rank) in enumerate(sorted(target_rank.items())):
        target = corpus[n % 40]
        others = [c for c in corpus if c != target][:19]
        ranking = others[: rank - 1] + [target] + others[rank - 1 :]
        q = RankedQuery(qid, tuple(ranking), (target,), category="dress" if n % 2 else "hat")
        ranked.append(q)
        records.append({
            "id": qid, "category": q.category, "image": f"{qid}.jpg", "image_path": str(SAMPLE[n % 40]),
            "instruction": instruction, "reference_id": None, "targets": [target], "target_names": [f"img{n % 40}.jpg"],
            "target_paths": [str(SAMPLE[(n + 1) % 40])], "missing_targets": [], "ranking": ranking,
            "scores": [1.0 - i / 100 for i in range(len(ranking))],
            "paths": [str(SAMPLE[corpus.index(c) % 40]) for c in ranking], "subset": None,
            "target_ranks": target_ranks(ranking, [target]), "best_target_rank": best_target_rank(q),
            "metrics": query_metrics(q, ks=settings["ks"], map_ks=settings["map_ks"], subset_ks=settings["subset_ks"]),
        })  # fmt: skip
    summary = summarize(ranked, ks=settings["ks"], map_ks=settings["map_ks"], subset_ks=settings["subset_ks"])
    counts = {"n_loaded": len(records), "n_encoded": len(records), "failed_query_images": {}, "match": {}}
    metrics = {"untrained": True, "retrieval": summary, "settings": settings, "queries": counts,
               "corpus": corpus_identity(corpus)}  # fmt: skip
    encoder = {"name": name, "dim": 32, "fingerprint": name, "untrained": True, "weights": "untrained",
               "collection_metric": "COSINE"}  # fmt: skip
    config = {"collection": name, "evaluation": settings, "queries": "<built>", "untrained": True}
    parts = RunConfig.from_dict(config), RunEncoder.from_dict(encoder), RunMetrics.from_dict(metrics)
    return EvalRun(None, *parts, records)


def queries(n=50, rank=8):
    return {f"q{i:02d}": rank for i in range(n)}


def planted(n=50, share=0.6):
    """Query ``i`` of the first ``share`` moves its target from rank 8 to rank 1, by ``i`` steps down the list."""
    return {f"q{i:02d}": 1 if i < share * n else 8 for i in range(n)}


def test_a_planted_improvement_is_significant_with_a_ci_above_zero(tmp_path):
    result = compare(make_run(queries(), name="a"), make_run(planted(), name="b"), out_dir=tmp_path)
    test = next(t for t in result.tests if (t["scope"], t["metric"]) == ("all", "recall@1"))
    assert test["difference"] == pytest.approx(60.0)
    assert test["p_value"] < 0.01 and 0 < test["ci_low"] < 60 < test["ci_high"]
    assert result.comparable and result.checks["untrained"] == ["a", "b"]
    at10 = next(t for t in result.tests if (t["scope"], t["metric"]) == ("all", "recall@10"))
    assert at10["difference"] == 0 and at10["p_value"] == 1  # rank 8 and rank 1 both hit at 10
    assert result.disagreements[0] | {"pairs": None} == {
        "run": "b", "vs": "a", "stage": "retrieval", "wins": 30, "ties": 20, "losses": 0, "pairs": None,
        "largest_changes": [{"id": f"q{i:02d}", "first_rank": 8, "rank": 1} for i in range(4)],
    }  # fmt: skip
    data = json.loads((tmp_path / "compare.json").read_text())
    assert data["table"]["columns"][:5] == ["stage", "scope", "metric", "a [UNTRAINED]", "b [UNTRAINED]"]
    row = next(r for r in data["table"]["rows"] if r[:3] == ["retrieval", "all", "recall@1"])
    assert row[3:6] == [0.0, 60.0, 60.0]
    assert {r[1] for r in data["table"]["rows"]} == {"all", "dress", "hat"}
    assert (tmp_path / "disagree-1.png").stat().st_size > 10_000
    assert "UNTRAINED" in (tmp_path / "compare.md").read_text()
    assert (tmp_path / "compare.csv").read_text().startswith("stage,scope,metric,")


def test_identical_runs_differ_by_zero_with_p_one():
    result = compare(make_run(planted(), name="a"), make_run(planted(), name="b"))
    assert result.comparable
    assert all(t["difference"] == 0 and t["p_value"] == 1 for t in result.tests)
    assert all((t["ci_low"], t["ci_high"]) == (0, 0) for t in result.tests)
    assert (result.disagreements[0]["wins"], result.disagreements[0]["losses"]) == (0, 0)


@pytest.mark.parametrize(
    ("other", "check"),
    [
        (lambda: make_run({f"x{i:02d}": 8 for i in range(50)}, name="b"), "query ids"),
        (lambda: make_run(queries(), name="b", corpus=CORPUS + ["extra"]), "candidate set"),
        (lambda: make_run(queries(), name="b", corpus=[f"d{i}" for i in range(40)]), "candidate set"),
        (lambda: make_run(queries(), name="b", settings={**SETTINGS, "protocol": {**SETTINGS["protocol"],
                                                                                   "exclude_reference": False}}),
         "protocol"),
        (lambda: make_run(queries(), name="b", settings={**SETTINGS, "protocol": {**SETTINGS["protocol"],
                                                                                   "search": "ann"}}), "protocol"),
        (lambda: make_run(queries(), name="b", instruction="a photo of it, in red"), "query template"),
    ],
)  # fmt: skip
def test_another_query_set_corpus_or_protocol_is_not_comparable(other, check):
    result = compare(make_run(queries(), name="a"), other())
    assert not result.comparable
    assert [c["check"] for c in result.checks["checks"] if c["state"] == "MISMATCH"] == [check]
    notes = result.table().notes
    assert notes[0].startswith("**NOT COMPARABLE**: b vs a: " + check)
    assert result.as_dict()["problems"] == [notes[0].removeprefix("**NOT COMPARABLE**: ")]


def test_the_figure_shows_the_queries_with_the_largest_rank_changes():
    moved = {**queries(10), "q03": 20, "q07": 1, "q05": 6}  # changes: q03 by 12, q07 by 7, q05 by 2
    result = compare(make_run(queries(10), name="a"), make_run(moved, name="b"), show=2)
    fig = result.figure()
    rows = [ax.get_title() for ax in fig.axes if ax.get_title().startswith("query ")]
    assert rows == ["query q03", "query q07"]
    targets = [ax.get_xlabel() for ax in fig.axes if ax.get_title() == "target"]
    assert targets == ["a #8\nb #20", "a #8\nb #1"]
    framed = [ax.get_title() for ax in fig.axes if ax.spines["left"].get_visible() and "#" in ax.get_title()]
    assert framed == ["b #1"]  # q07's target is b's first hit; a's top 3 and q03's hold no target
    wins = result.disagreements[0]
    assert (wins["wins"], wins["ties"], wins["losses"]) == (2, 7, 1)  # q07 and q05 better, q03 worse


def test_older_run_folders_are_rescored_and_their_corpus_is_unknown(tmp_path):
    for name, ranks in (("a", queries()), ("b", planted())):
        run = make_run(ranks, name=name)
        for rec in run.rankings:
            del rec["metrics"]
        del run.metrics.extra["corpus"]
        run.out_dir = tmp_path / name
        write_run(run)
    result = compare(tmp_path / "a", tmp_path / "b")
    assert next(t for t in result.tests if t["metric"] == "recall@1")["difference"] == pytest.approx(60.0)
    assert [c["state"] for c in result.checks["checks"] if c["check"] == "candidate set"] == ["unknown"]
    assert any(n.startswith("Not checked: b: candidate set") for n in result.table().notes)
    assert load_run(tmp_path / "a").rankings[0]["id"] == "q00"


def test_compare_refuses_one_run_and_a_folder_that_is_no_run(tmp_path):
    with pytest.raises(EvaluationError, match="at least two runs"):
        compare(make_run(queries()))
    with pytest.raises(EvaluationError, match="not an evaluation run folder"):
        compare(make_run(queries()), tmp_path)
