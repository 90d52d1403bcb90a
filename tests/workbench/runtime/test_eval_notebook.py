"""The 05_evaluate notebook's helpers: its query set, benchmark kind, preview, run folder and prices.

``key_figures`` and ``rerank_summary`` read a whole run; the notebook's headless run in
tests/evaluation/running/test_evaluate_run.py exercises them.
"""

from __future__ import annotations

import json
from pathlib import Path

from mmrag_lab.evaluation.inputs.querysets import Query
from mmrag_lab.workbench.runtime import eval_notebook


def test_without_a_query_file_each_class_folder_is_a_query(sample_dir):
    queries = eval_notebook.query_set(None, None, sample_dir)
    assert len(queries) == len([p for p in sample_dir.iterdir() if p.is_dir()])
    assert eval_notebook.kind_of(None, None) is None


def test_a_query_file_is_loaded_and_its_kind_told(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"id": "a", "image": "x.jpg", "instruction": "in red", "targets": ["y.jpg"]}))
    (query,) = eval_notebook.query_set(path, None, tmp_path)
    assert (query.query_id, query.targets) == ("a", ("y.jpg",))
    assert (
        eval_notebook.kind_of(str(path), None) == "jsonl"
        and eval_notebook.kind_of(str(path), "cirr") == "cirr"
    )


def test_the_preview_counts_targets_and_stops_at_n():
    queries = [Query(str(i), f"/imgs/{i}.jpg", "shorter", ("a", "b"), category="dress") for i in range(8)]
    table = eval_notebook.preview(queries, n=3)
    assert table.columns == ("id", "image", "instruction", "targets", "category")
    assert table.rows == tuple((str(i), f"{i}.jpg", "shorter", 2, "dress") for i in range(3))


def test_run_folder_and_prices():
    assert eval_notebook.run_folder("/out", "/runs") == Path("/out")
    assert eval_notebook.run_folder(None, "/runs") == Path("/runs/05_evaluate-run")
    assert eval_notebook.run_folder(None, None) is None
    assert eval_notebook.prices(2, 10.0) == {"input_per_1m": 2.0, "output_per_1m": 10.0}
    assert eval_notebook.prices(2, None) is None and eval_notebook.prices(None, 1) is None


def test_feedback_k_none_keeps_the_protocols_default_and_a_number_overrides_it():
    from mmrag_lab.evaluation.inputs.protocol import EvalProtocol

    default = eval_notebook.feedback_protocol([1, 10], 2, None)
    assert (default.ks, default.feedback_rounds, default.feedback_k) == (
        [1, 10],
        2,
        EvalProtocol().feedback_k,
    )
    assert eval_notebook.feedback_protocol([1], 1, 3).feedback_k == 3
