"""Query-set formats: our JSON Lines, CIRR, FashionIQ and CIRCO files, and the image index."""

from __future__ import annotations

import json

import pytest

from mmrag_lab.errors import EvaluationError
from mmrag_lab.evaluation import (
    ImageIndex,
    Query,
    coco_file_name,
    join_fashioniq_captions,
    load_circo,
    load_cirr,
    load_fashioniq,
    load_queries,
    read_jsonl,
    write_jsonl,
)
from tests.evaluation.inputs.annotation_samples import CIRR_VAL, write_json


def test_jsonl_round_trip_keeps_every_field(tmp_path):
    queries = [
        Query("a", "img/x.jpg", "make it red", ("y", "z"), category="dress", subset=("x", "y", "w")),
        Query("b", "42", "ünïcode ok", ("7",)),
    ]
    path = write_jsonl(queries, tmp_path / "sub" / "q.jsonl")
    assert read_jsonl(path) == queries
    assert json.loads(path.read_text(encoding="utf-8").splitlines()[1]) == {
        "id": "b",
        "image": "42",
        "instruction": "ünïcode ok",
        "targets": ["7"],
    }


def test_jsonl_defaults_ids_to_line_numbers_and_accepts_a_single_target(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text(
        '{"image": "a.jpg", "instruction": "x", "targets": "b.jpg"}\n\n'
        '{"image": "c.jpg", "instruction": "y", "targets": [3, 4]}\n'
    )
    q1, q2 = read_jsonl(path)
    assert (q1.query_id, q1.targets) == ("1", ("b.jpg",))
    assert (q2.query_id, q2.targets, q2.category) == ("3", ("3", "4"), None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"image": "a", "instruction": "x"}\n', "missing field"),
        ('{"image": "a", "instruction": "x", "targets": []}\n', "targets' is empty"),
        ("not json\n", "not valid JSON"),
        (
            '{"id": 1, "image": "a", "instruction": "x", "targets": ["b"]}\n'
            '{"id": 1, "image": "c", "instruction": "y", "targets": ["d"]}\n',
            "repeated query id",
        ),
    ],
)
def test_jsonl_errors_name_the_line_and_the_fix(tmp_path, text, message):
    path = tmp_path / "q.jsonl"
    path.write_text(text)
    with pytest.raises(EvaluationError, match=message):
        read_jsonl(path)


def test_missing_query_file_is_an_evaluation_error(tmp_path):
    with pytest.raises(EvaluationError, match="does not exist"):
        read_jsonl(tmp_path / "nope.jsonl")


def test_load_cirr_reads_reference_caption_target_and_img_set(tmp_path):
    path = write_json(tmp_path / "captions" / "cap.rc2.val.json", CIRR_VAL)
    q = load_cirr(path)[0]
    assert (q.query_id, q.image, q.instruction, q.targets) == (
        "10",
        "dev-1-0-img0",
        "show two dogs",
        ("dev-1-1-img1",),
    )
    assert q.subset == ("dev-1-0-img0", "dev-1-1-img1", "dev-1-2-img2")
    assert [x.query_id for x in load_queries(path)] == ["10", "11"]


def test_load_cirr_test_split_says_to_use_val(tmp_path):
    path = write_json(tmp_path / "cap.rc2.test1.json", [{"pairid": 1, "reference": "a", "caption": "b"}])
    with pytest.raises(EvaluationError, match="cap.rc2.val.json"):
        load_cirr(path)


def test_fashioniq_caption_join():
    assert join_fashioniq_captions(["is red.", " has long sleeves?"]) == "Is red and has long sleeves"
    # CLIP4Cir keeps an empty caption in the join (3 FashionIQ val queries have one).
    assert join_fashioniq_captions(["is shorter", ""]) == "Is shorter and "
    assert join_fashioniq_captions(["", "is Red"]) == " and is Red"
    assert join_fashioniq_captions(["IS RED", "x"]) == "Is red and x"  # str.capitalize, as CLIP4Cir


def test_load_fashioniq_reads_every_category_with_its_name(tmp_path):
    write_json(
        tmp_path / "cap.dress.val.json",
        [{"target": "B002", "candidate": "B001", "captions": ["is blue", "is shorter."]}],
    )
    write_json(tmp_path / "cap.shirt.val.json", [{"target": "S2", "candidate": "S1", "captions": ["a", "b"]}])
    write_json(tmp_path / "cap.toptee.val.json", [])
    queries = load_fashioniq(tmp_path)
    assert [(q.query_id, q.category, q.image, q.targets) for q in queries] == [
        ("dress-0", "dress", "B001", ("B002",)),
        ("shirt-0", "shirt", "S1", ("S2",)),
    ]
    assert queries[0].instruction == "Is blue and is shorter"
    assert load_queries(tmp_path, kind="fashioniq", categories=["shirt"])[0].query_id == "shirt-0"
    with pytest.raises(EvaluationError, match="does not exist"):
        load_fashioniq(tmp_path, split="test")


CIRCO_VAL = [
    {
        "reference_img_id": 271520,
        "target_img_id": 355099,
        "relative_caption": "shows two people",
        "shared_concept": "a girl with an umbrella",
        "gt_img_ids": [355099, 528417],
        "id": 0,
        "semantic_aspects": ["cardinality"],
    }
]


def test_load_circo_maps_coco_ids_to_file_names(tmp_path):
    path = write_json(tmp_path / "val.json", CIRCO_VAL)
    q = load_circo(path)[0]
    assert coco_file_name(2097) == "000000002097.jpg"
    assert (q.query_id, q.image, q.instruction) == ("0", "000000271520.jpg", "shows two people")
    assert q.targets == ("000000355099.jpg", "000000528417.jpg")
    assert q.meta["shared_concept"] == "a girl with an umbrella"


def test_load_circo_mapping_is_configurable(tmp_path):
    path = write_json(tmp_path / "val.json", CIRCO_VAL)
    info = write_json(
        tmp_path / "image_info_unlabeled2017.json",
        {"images": [{"id": 271520, "file_name": "ref.jpg"}, {"id": 355099, "file_name": "gt1.jpg"}]},
    )
    q = load_circo(path, id_to_name=info)[0]
    assert (q.image, q.targets) == ("ref.jpg", ("gt1.jpg", "000000528417.jpg"))
    assert load_circo(path, id_to_name=lambda i: f"coco/{i}.png")[0].image == "coco/271520.png"
    assert load_circo(path, id_to_name={271520: "r.jpg"})[0].image == "r.jpg"


def test_image_index_resolves_id_path_name_and_stem_and_flags_ambiguity(tmp_path):
    f = tmp_path / "a" / "dev-1-0-img0.png"
    f.parent.mkdir()
    f.write_bytes(b"x")
    index = ImageIndex(
        [(1, str(f)), (2, "/data/b/shoe.jpg"), (3, "/data/c/shoe.jpg"), (4, "/d/000000355099.jpg")]
    )
    assert index.resolve("1") == "1"
    assert index.resolve(str(f)) == "1"
    assert index.resolve("dev-1-0-img0") == "1"
    assert index.resolve("dev-1-0-img0.png") == "1"
    assert index.resolve("/data/b/shoe.jpg") == "2"
    assert index.resolve("shoe.jpg") is None and index.resolve("shoe") is None
    assert index.ambiguous() == ["shoe", "shoe.jpg"]
    assert "000000355099.jpg" in index and "nothing" not in index
    assert len(index) == 4


def test_load_queries_refuses_unknown_kinds(tmp_path):
    (tmp_path / "x.csv").write_text("image,instruction\n")
    with pytest.raises(EvaluationError, match="Cannot tell"):
        load_queries(tmp_path / "x.csv")
    with pytest.raises(EvaluationError, match="does not exist"):
        load_queries(tmp_path / "absent.csv")
    with pytest.raises(EvaluationError, match="Unknown query-set kind"):
        load_queries(tmp_path / "x.csv", kind="coco")
