"""Small annotation files for the query-set tests: a JSON writer and two CIRR validation entries."""

from __future__ import annotations

import json
from pathlib import Path

# Two CIRR val entries: the first with a soft target and a full img_set, the second whose target is
# not stored in the collections the tests build.
CIRR_VAL = [
    {
        "pairid": 10,
        "reference": "dev-1-0-img0",
        "target_hard": "dev-1-1-img1",
        "target_soft": {"dev-1-1-img1": 1.0},
        "caption": "show two dogs",
        "img_set": {"id": 1, "members": ["dev-1-0-img0", "dev-1-1-img1", "dev-1-2-img2"]},
    },
    {
        "pairid": 11,
        "reference": "dev-2-0-img0",
        "target_hard": "dev-9-9-img9",
        "caption": "make it night",
        "img_set": {"id": 2, "members": ["dev-2-0-img0", "dev-9-9-img9"]},
    },
]


def write_json(path: Path, data) -> Path:
    """Write ``data`` as JSON to ``path`` (its folders made as needed) and return ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path
