"""How a benchmark annotation becomes the query text: a named template, part of the protocol, recorded.

The text a composed query embeds is not the annotation itself but what the model's authors built from it.
BGE-VL's own CIRCO evaluation (MegaPairs ``eval/data/circo_query.jsonl``) embeds
``"Find a picture that also {shared_concept}, but {relative_caption}"``; with the relative caption alone the
paper's figures are not reproduced. Each preset names its default (``Preset.query_template``); the others
keep ``instruction``, the annotation's instruction as it is.

A template's fields are ``instruction`` (alias ``relative_caption``) and the query's ``meta`` fields (CIRCO:
``shared_concept``). A query that lacks a field the template needs keeps its instruction; the run records
how many queries the template changed.
"""

from __future__ import annotations

import dataclasses
import string
from collections.abc import Sequence

from mmrag_lab.errors import EvaluationError
from mmrag_lab.evaluation.inputs.querysets import Query

QUERY_TEMPLATES: dict[str, str] = {
    "instruction": "{instruction}",
    "circo-shared-concept": "Find a picture that also {shared_concept}, but {relative_caption}",
}


def default_template(encoder: str) -> str:
    """The template name the preset's authors used (``instruction`` for an unknown preset)."""
    from mmrag_lab.encoders.presets import PRESETS

    preset = PRESETS.get(encoder)
    return preset.query_template if preset is not None else "instruction"


def apply_template(queries: Sequence[Query], name: str) -> tuple[list[Query], dict]:
    """The queries with their instruction rewritten by template ``name``, and the record of what was done.

    Raises:
        EvaluationError: No template has that name; the message lists those that exist.
    """
    if name not in QUERY_TEMPLATES:
        raise EvaluationError(
            f"Unknown query template {name!r}; choose one of {', '.join(QUERY_TEMPLATES)} (see "
            "mmrag_lab.evaluation.inputs.templates)."
        )
    form = QUERY_TEMPLATES[name]
    needed = {field for _, field, _, _ in string.Formatter().parse(form) if field}
    out, changed = [], 0
    for query in queries:
        fields = {**{k: v for k, v in query.meta.items() if isinstance(v, str) and v}}
        fields.update(instruction=query.instruction, relative_caption=query.instruction)
        if needed <= set(fields):
            text = form.format(**fields)
            changed += text != query.instruction
            query = dataclasses.replace(query, instruction=text)
        out.append(query)
    return out, {"name": name, "format": form, "n_changed": changed}
