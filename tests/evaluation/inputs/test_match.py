"""Matching a query set's image names to a collection: what matched, what is missing, what is ambiguous."""

from __future__ import annotations

from mmrag_lab.evaluation import ImageIndex, Query, load_cirr, match_queries
from tests.evaluation.inputs.annotation_samples import CIRR_VAL, write_json


def test_match_reports_missing_targets_unmatched_images_and_subset_members(tmp_path):
    cirr = load_cirr(write_json(tmp_path / "cap.rc2.val.json", CIRR_VAL))
    loose = tmp_path / "outside.jpg"
    loose.write_bytes(b"x")
    extra = [
        Query("12", "outside.jpg", "x", ("dev-1-1-img1",)),
        Query("13", "gone.jpg", "y", ("dev-1-1-img1",)),
    ]
    names = ["dev-1-0-img0", "dev-1-1-img1", "dev-1-2-img2", "dev-2-0-img0"]
    index = ImageIndex((f"id{i}", f"/imgs/{n}.png") for i, n in enumerate(names))
    report = match_queries(cirr + extra, index, base_dir=tmp_path)

    first, second, outside = report.matched
    assert (first.reference_id, first.image_path, first.target_ids) == (
        "id0",
        "/imgs/dev-1-0-img0.png",
        ("id1",),
    )
    assert first.subset_ids == ("id0", "id1", "id2")
    assert (second.target_ids, second.missing_targets) == ((), ("dev-9-9-img9",))
    assert (outside.reference_id, outside.image_path) == (None, str(loose))
    summary = report.as_dict()
    assert summary["unmatched_query_images"] == {
        "13": "query image 'gone.jpg' is not stored and is not a file"
    }
    assert summary["queries_with_missing_targets"] == ["11"]
    assert summary["n_missing_targets"] == 1
    assert summary["n_missing_subset_members"] == 1
