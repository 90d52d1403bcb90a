"""A run folder's files: written whole or not at all, with a manifest; read back with every problem named."""

from __future__ import annotations

import json

import pytest

from mmrag_lab.errors import EvaluationError
from mmrag_lab.evaluation.records.runfiles import (
    INCOMPLETE,
    MANIFEST,
    check_complete,
    check_manifest,
    read_json,
    read_jsonl,
    staged,
    write_json,
    write_text,
)

REQUIRED = ("metrics.json", "rankings.jsonl")


def _write_run(out, value: int = 1):
    with staged(out) as stage:
        write_json(stage / "metrics.json", {"recall@1": value})
        write_text(stage / "rankings.jsonl", '{"id": "q1"}\n\n{"id": "q2"}\n')


def test_a_staged_run_appears_whole_with_its_manifest(tmp_path):
    out = tmp_path / "runs" / "a"
    _write_run(out)
    assert sorted(p.name for p in out.iterdir()) == sorted([MANIFEST, *REQUIRED])
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["a"]  # no staging folder left
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["files"]["metrics.json"]["bytes"] == (out / "metrics.json").stat().st_size
    check_complete(out, REQUIRED)
    check_manifest(out, REQUIRED)
    assert read_json(out, "metrics.json") == {"recall@1": 1}
    assert read_jsonl(out, "rankings.jsonl") == [{"id": "q1"}, {"id": "q2"}]


def test_rewriting_a_run_replaces_its_files(tmp_path):
    _write_run(tmp_path / "a", value=1)
    _write_run(tmp_path / "a", value=2)
    assert read_json(tmp_path / "a", "metrics.json") == {"recall@1": 2}
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted([MANIFEST, *REQUIRED])
    check_manifest(tmp_path / "a", REQUIRED)


def test_a_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), staged(tmp_path / "a") as stage:
        write_json(stage / "metrics.json", {})
        raise RuntimeError("the evaluation failed")
    assert list(tmp_path.iterdir()) == []


def test_a_lone_surrogate_survives_the_round_trip(tmp_path):
    write_json(tmp_path / "m.json", {"path": "caf\udce9.jpg"})
    assert read_json(tmp_path, "m.json") == {"path": "caf\udce9.jpg"}


def test_incomplete_and_changed_runs_are_refused(tmp_path):
    out = tmp_path / "a"
    _write_run(out)
    (out / "rankings.jsonl").write_text('{"id": "q1"}\n{"id": "q9"}\n\n')  # same size, other content
    with pytest.raises(EvaluationError, match="rankings.jsonl: its content changed since the run wrote it"):
        check_manifest(out, REQUIRED)
    (out / "rankings.jsonl").write_text('{"id": "q1"}\n')
    with pytest.raises(EvaluationError, match=r"bytes, but the run wrote .* \(truncated or changed since\)"):
        check_manifest(out, REQUIRED)
    (out / "rankings.jsonl").unlink()
    with pytest.raises(EvaluationError, match="rankings.jsonl missing; run the evaluation again with --out"):
        check_complete(out, REQUIRED)
    (out / INCOMPLETE).touch()
    with pytest.raises(EvaluationError, match="its rewrite was interrupted"):
        check_complete(out, REQUIRED)


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [("metrics.json", b"", "empty"), ("metrics.json", b"[1]", "a JSON list, not an object"),
     ("metrics.json", b'{"a": ', "not valid JSON"), ("metrics.json", b'{"a": "\xff"}', "not UTF-8 text"),
     ("rankings.jsonl", b'{"id": 1}\n{"id": ', "line 2 is not valid JSON"),
     ("rankings.jsonl", b'{"id": 1}\n3\n', "line 2 is a JSON int, not an object")],
)  # fmt: skip
def test_a_damaged_file_is_named_with_its_problem(tmp_path, name, content, problem):
    (tmp_path / name).write_bytes(content)
    read = read_jsonl if name.endswith(".jsonl") else read_json
    with pytest.raises(EvaluationError, match=f"{name}: {problem}.*The run folder is damaged"):
        read(tmp_path, name)
    with pytest.raises(EvaluationError, match="other.json: missing"):
        read_json(tmp_path, "other.json")
