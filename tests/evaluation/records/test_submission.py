"""Submission files for the CIRR and CIRCO servers, in exactly their formats; an untrained run marked by name."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from mmrag_lab.errors import EvaluationError
from mmrag_lab.evaluation.records.submission import (
    circo_submission,
    cirr_submission,
    short_rankings,
    write_submission,
)

RECORDS = [{"id": 7, "ranking": [f"c{i}" for i in range(60)], "subset": ["c3", "c1", "c9", "c4"]}]
PATHS = {f"c{i}": f"/data/{i:012d}.jpg" for i in range(60)}


def test_cirr_has_the_top_50_and_the_top_3_of_the_subset():
    recall, subset = cirr_submission(RECORDS, lambda cid: cid.upper(), "rc2")
    assert recall["version"] == "rc2" and recall["metric"] == "recall" and len(recall["7"]) == 50
    assert subset == {"version": "rc2", "metric": "recall_subset", "7": ["C3", "C1", "C9"]}


def test_circo_has_the_top_50_coco_ids():
    assert circo_submission(RECORDS, lambda cid: int(cid[1:])) == {"7": list(range(50))}


def _run(tmp_path, untrained: bool, queries: str = "/cirr/captions/cap.rc1.test1.json"):
    return SimpleNamespace(
        untrained=untrained, config={"queries": queries}, rankings=RECORDS, out_dir=tmp_path
    )


def test_cirr_files_are_written_with_the_version_from_the_caption_file(tmp_path):
    names = write_submission("cirr", _run(tmp_path, untrained=False), PATHS.__getitem__)
    assert names == ["cirr_recall_submission.json", "cirr_recall_subset_submission.json"]
    recall = json.loads((tmp_path / names[0]).read_text())
    assert recall["version"] == "rc1" and recall["7"][0] == "000000000000"


def test_circo_files_take_ids_from_names_or_the_coco_info_and_mark_untrained_runs(tmp_path):
    names = write_submission("circo", _run(tmp_path, untrained=True), PATHS.__getitem__)
    assert names == ["circo_submission.UNTRAINED.json"]
    assert json.loads((tmp_path / names[0]).read_text())["7"][:3] == [0, 1, 2]
    named = {cid: f"/data/pic{i}.jpg" for i, cid in enumerate(PATHS)}
    coco = {f"pic{i}.jpg": 1000 + i for i in range(60)}
    write_submission("circo", _run(tmp_path, False), named.__getitem__, coco_ids=coco, folder=tmp_path)
    assert json.loads((tmp_path / "circo_submission.json").read_text())["7"][:2] == [1000, 1001]
    with pytest.raises(EvaluationError, match="Cannot tell the COCO id of pic0.jpg"):
        write_submission("circo", _run(tmp_path, False), named.__getitem__)


def test_no_format_for_other_benchmarks_and_short_rankings_are_warned():
    with pytest.raises(EvaluationError, match="No submission format for fashioniq"):
        write_submission("fashioniq", _run(None, False), str)
    assert short_rankings(RECORDS) is None
    warning = short_rankings([{"id": "q1", "ranking": ["a"]}, *RECORDS])
    assert warning.startswith("1 queries (e.g. ['q1']) ranked fewer than 50 images")
