"""Annotation files: every mistake named by file, line or entry; a query set's kind told by its files."""

from __future__ import annotations

import pytest

from mmrag_lab.errors import EvaluationError
from mmrag_lab.evaluation.inputs.annotations import entries, guess_kind, image_id, read_json_list, read_text
from tests.evaluation.inputs.annotation_samples import write_json


def test_text_is_utf8_with_the_bom_dropped_and_bad_bytes_named_by_line(tmp_path):
    good = tmp_path / "a.json"
    good.write_bytes(b"\xef\xbb\xbf[1]")
    assert read_text(good, "Annotation file") == "[1]"
    bad = tmp_path / "b.json"
    bad.write_bytes(b"[\n1,\n\xff]")
    with pytest.raises(EvaluationError, match=r"b.json, line 3: not UTF-8 text"):
        read_text(bad, "Annotation file")
    with pytest.raises(EvaluationError, match="Captions file .*nope.json does not exist"):
        read_text(tmp_path / "nope.json", "Captions file")


@pytest.mark.parametrize(
    ("content", "message"),
    [("", "is empty; it should hold a JSON list"), ("[1,\n2,,]", "line 2: not valid JSON"),
     ('{"a": 1}', "expected a JSON list of annotations, got dict"), ("[]", "holds an empty list")],
)  # fmt: skip
def test_a_json_list_or_a_named_refusal(tmp_path, content, message):
    path = tmp_path / "ann.json"
    path.write_text(content)
    with pytest.raises(EvaluationError, match=message):
        read_json_list(path)


def test_an_empty_list_when_allowed_and_entries_checked(tmp_path):
    path = write_json(tmp_path / "ann.json", [])
    assert read_json_list(path, allow_empty=True) == []
    data = [{"reference": "a", "caption": "x"}, {"reference": "b"}]
    assert entries(path, data[:1], ("reference", "caption")) == data[:1]
    with pytest.raises(
        EvaluationError, match="entry 1 has no 'caption'; each entry needs reference, caption"
    ):
        entries(path, data, ("reference", "caption"))
    with pytest.raises(EvaluationError, match="entry 0 is a JSON str, not an object"):
        entries(path, ["x"], ("reference",))


def test_coco_ids_are_numbers():
    assert image_id("c.json", 0, {"id": "0042"}, "id") == 42 and image_id("c.json", 0, {"id": 7}, "id") == 7
    for bad in (True, "x1", 1.5, None):
        with pytest.raises(EvaluationError, match="entry 3: 'id' must be a COCO image id"):
            image_id("c.json", 3, {"id": bad}, "id")


def test_the_kind_is_told_by_the_files(tmp_path):
    fiq = write_json(tmp_path / "captions" / "cap.dress.val.json", []).parent
    assert guess_kind(fiq) == "fashioniq"
    assert guess_kind(write_json(tmp_path / "cap.rc2.val.json", [])) == "cirr"
    (tmp_path / "q.jsonl").write_text("")
    assert guess_kind(tmp_path / "q.jsonl") == "jsonl"
    circo = write_json(tmp_path / "circo.json", [{"reference_img_id": 1, "relative_caption": "x"}])
    assert guess_kind(circo) == "circo"
    assert guess_kind(write_json(tmp_path / "cirr.json", [{"reference": "a", "caption": "x"}])) == "cirr"


def test_an_unknown_kind_lists_the_choices(tmp_path):
    (tmp_path / "classes" / "dress").mkdir(parents=True)
    with pytest.raises(EvaluationError, match="pass --kind folders"):
        guess_kind(tmp_path / "classes")
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        EvaluationError, match="pass --kind .kind=. one of jsonl, cirr, fashioniq, circo, folders"
    ):
        guess_kind(tmp_path / "empty")
    other = write_json(tmp_path / "other.json", [{"id": 1}])
    with pytest.raises(EvaluationError, match="neither CIRR's keys"):
        guess_kind(other)
    (tmp_path / "q.txt").write_text("x")
    with pytest.raises(EvaluationError, match="Cannot tell what kind of query set"):
        guess_kind(tmp_path / "q.txt")
    with pytest.raises(EvaluationError, match="does not exist"):
        guess_kind(tmp_path / "missing.jsonl")
