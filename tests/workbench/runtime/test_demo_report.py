"""The demo's closing summary: one line per step, read from what each notebook recorded."""

from __future__ import annotations

import json
from pathlib import Path

from mmrag_lab.workbench.runtime import demo_report


def test_report_lines_for_a_reranked_run_and_a_failed_one(tmp_path):
    record = {"rerank": {"fallback_reason": None, "order": [1, 0], "model": "m", "explanation": "red wins"}}
    (tmp_path / "03_rerank.json").write_text(json.dumps(record))
    lines = demo_report.step_lines(Path(tmp_path), reranked=True)
    assert "m reordered the hits to #2, #1" in lines[2] and "why: red wins" in lines[2]
    assert "no record" in lines[0] and "no record" in lines[3]
