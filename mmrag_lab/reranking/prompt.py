"""The reranker's prompt: a composed-image-retrieval ranker that answers in JSON.

The user's instruction and the metadata values are embedded as JSON strings, so that quotes or line breaks
in them stay data and cannot pose as new prompt sections.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

MAX_META_CHARS = 300
# Candidates are numbered from 1 everywhere a person or the model sees them: the panorama's badges, this
# prompt, the model's reply, the grids ("#1".."#9") and the "New order" texts. Only code indexes from 0.
FIRST_NUMBER = 1

SYSTEM = (
    "You rank the results of a composed image retrieval. The user searched with a query image plus an "
    "instruction that says how the wanted image relates to the query image. For example, for a photo of a "
    "red car with the instruction 'make it blue', a similar car in blue ranks first."
)

RESPONSE_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "rerank",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {
                "ranking": {"type": "array", "items": {"type": "integer"}},
                "explanation": {"type": "string"},
            },
            "required": ["ranking", "explanation"],
            "additionalProperties": False,
        },
    },
}


def prompt_text(instruction: str, n: int, metadata: Sequence[Mapping] | None = None) -> str:
    """The user-turn text for ``n`` candidates, optionally listing each candidate's metadata."""
    lines = [
        "The attached picture shows the query image on the left, inside a blue border and labelled "
        f"'query'. The {n} candidates are on the right; each has its number in red on a white badge "
        f"at its top-left corner. The numbers run from {FIRST_NUMBER} to {n - 1 + FIRST_NUMBER}; do not "
        "confuse them with the picture content.",
        f"User instruction: {json.dumps(instruction or '', ensure_ascii=False)}",
    ]
    described = [(i, m) for i, m in enumerate(metadata or []) if m]
    if described:
        lines.append("Metadata of the candidates:")
        lines += [f"{i + FIRST_NUMBER}: {_meta(m)}" for i, m in described]
    lines.append(
        "Rank ALL candidates from most to least suitable for the instruction, each number exactly once, "
        "and explain briefly why the first one fits best. Answer with JSON only, in this form: "
        '{"ranking": [best number, next number, ...], "explanation": "why the best one fits"}'
    )
    return "\n".join(lines)


def build_messages(text: str, image_url: str) -> list[dict]:
    """Chat messages with the text and the panorama as an inline image."""
    return [
        {"role": "system", "content": SYSTEM},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": text},
                {"type": "image_url", "image_url": {"url": image_url}},
            ],
        },
    ]


def _meta(meta: Mapping) -> str:
    encoded = json.dumps(dict(meta), ensure_ascii=False, default=str, sort_keys=True)
    return encoded if len(encoded) <= MAX_META_CHARS else encoded[: MAX_META_CHARS - 3] + "..."
