"""Test-split submission files for the CIRR and CIRCO evaluation servers.

- **CIRR** (``Test-split_server.md`` of Cuberick-Orion/CIRR): two JSON objects, each with ``"version"``
  (e.g. ``"rc2"``) and ``"metric"``, then ``pairid -> list of image names``: the top 50 for
  ``"metric": "recall"`` and the top 3 of the query's ``img_set`` (reference removed) for
  ``"metric": "recall_subset"``.
- **CIRCO** (README of miccunifi/CIRCO): one JSON object, ``query id -> top 50 COCO image ids`` (integers),
  covering every test query.

The rankings are the run's own, so they follow its protocol (CIRR without the reference, CIRCO with it).
The files must stay exactly in these formats, so an untrained encoder is marked in their names instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path, PurePath

from mmrag_lab.errors import EvaluationError

SUBMISSION_DEPTH = 50
SUBSET_DEPTH = 3


def cirr_submission(records: list[dict], name_of: Callable[[str], str], version: str) -> tuple[dict, dict]:
    """The ``recall`` and ``recall_subset`` submissions of CIRR from ``rankings.jsonl`` records."""
    recall: dict = {"version": version, "metric": "recall"}
    subset: dict = {"version": version, "metric": "recall_subset"}
    for rec in records:
        recall[str(rec["id"])] = [name_of(cid) for cid in rec["ranking"][:SUBMISSION_DEPTH]]
        subset[str(rec["id"])] = [name_of(cid) for cid in (rec["subset"] or [])[:SUBSET_DEPTH]]
    return recall, subset


def circo_submission(records: list[dict], coco_id_of: Callable[[str], int]) -> dict:
    """CIRCO's submission: query id -> the top 50 COCO ids."""
    return {str(rec["id"]): [coco_id_of(cid) for cid in rec["ranking"][:SUBMISSION_DEPTH]] for rec in records}


def write_submission(
    kind: str | None,
    run,
    path_of: Callable[[str], str],
    coco_ids: Mapping[str, int] | None = None,
    folder: str | Path | None = None,
) -> list[str]:
    """Write the submission file(s) of a finished run into ``folder`` (default its own) and return their names.

    A ranking shorter than 50 (a collection smaller than the test image set) is written as it is; the run's
    ``metrics.json`` then says so under ``submission_warning``.

    Raises:
        EvaluationError: The benchmark has no submission format.
    """
    mark = ".UNTRAINED" if run.untrained else ""
    stem_of = lambda cid: PurePath(path_of(cid)).stem  # noqa: E731
    if kind == "cirr":
        version = _cirr_version(str(run.config.get("queries", "")))
        recall, subset = cirr_submission(run.rankings, stem_of, version)
        files = {
            f"cirr_recall_submission{mark}.json": recall,
            f"cirr_recall_subset_submission{mark}.json": subset,
        }
    elif kind == "circo":
        files = {f"circo_submission{mark}.json": circo_submission(run.rankings, _coco_id(path_of, coco_ids))}
    else:
        raise EvaluationError(
            f"No submission format for {kind or 'this query set'}; CIRR and CIRCO have one."
        )
    for name, content in files.items():
        (Path(folder or run.out_dir) / name).write_text(json.dumps(content) + "\n", encoding="utf-8")
    return list(files)


def short_rankings(records: list[dict]) -> str | None:
    """A warning when some ranking holds fewer than the 50 images the servers expect."""
    short = [r["id"] for r in records if len(r["ranking"]) < SUBMISSION_DEPTH]
    if not short:
        return None
    return (
        f"{len(short)} queries (e.g. {short[:3]}) ranked fewer than {SUBMISSION_DEPTH} images: the collection "
        "is smaller than the test image set; ingest all of it before submitting."
    )


def _cirr_version(source: str) -> str:
    found = re.search(r"cap\.([A-Za-z0-9]+)\.", PurePath(source).name)
    return found.group(1) if found else "rc2"


def _coco_id(path_of: Callable[[str], str], coco_ids: Mapping[str, int] | None) -> Callable[[str], int]:
    def coco_id(cid: str) -> int:
        path = PurePath(path_of(cid))
        if coco_ids is not None and path.name in coco_ids:
            return int(coco_ids[path.name])
        if not path.stem.isdigit():
            raise EvaluationError(
                f"Cannot tell the COCO id of {path.name}; name files by COCO id or pass --coco-info."
            )
        return int(path.stem)

    return coco_id
