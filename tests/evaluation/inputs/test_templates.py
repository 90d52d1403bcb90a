"""Query templates: BGE-VL's CIRCO form for its presets, the annotation as it is for the others."""

from __future__ import annotations

import pytest

from mmrag_lab.errors import EvaluationError
from mmrag_lab.evaluation.inputs.querysets import Query
from mmrag_lab.evaluation.inputs.templates import QUERY_TEMPLATES, apply_template, default_template


def _circo(concept: str | None) -> Query:
    return Query("1", "a.jpg", "is red", ("b.jpg",), meta={"shared_concept": concept})


def test_bge_vl_defaults_to_its_authors_circo_form_and_others_keep_the_instruction():
    assert default_template("bge-vl-base") == default_template("bge-vl-large") == "circo-shared-concept"
    for name in ("clip-vit-b16", "siglip2-base", "visualized-bge-base", "no-such-preset"):
        assert default_template(name) == "instruction"


def test_circo_form_uses_the_shared_concept():
    queries, record = apply_template([_circo("shows a dog"), _circo(None)], "circo-shared-concept")
    assert queries[0].instruction == "Find a picture that also shows a dog, but is red"
    assert queries[1].instruction == "is red"  # no shared concept: the instruction stays
    assert record == {"name": "circo-shared-concept", "format": QUERY_TEMPLATES["circo-shared-concept"],
                      "n_changed": 1}  # fmt: skip


def test_instruction_template_changes_nothing_and_unknown_names_list_the_known():
    queries, record = apply_template([_circo("shows a dog")], "instruction")
    assert queries[0].instruction == "is red" and record["n_changed"] == 0
    with pytest.raises(EvaluationError, match="circo-shared-concept"):
        apply_template([], "nope")
