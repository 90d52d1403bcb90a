"""Reading query-set and benchmark annotation files, with every mistake named by file, line or entry.

A file that is not UTF-8, not JSON, empty, or of the wrong shape is refused before any model loads; an
entry that lacks a key the benchmark needs is named by its index and the key. :func:`guess_kind` tells a
query set's kind by the files present (never by a folder alone) and, when it cannot, lists the choices.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mmrag_lab.errors import EvaluationError

KINDS = ("jsonl", "cirr", "fashioniq", "circo", "folders")
_KIND_HINT = "pass --kind (kind=) one of " + ", ".join(KINDS)


def read_text(path: Path, what: str) -> str:
    """The text of a UTF-8 file (a byte-order mark is dropped)."""
    if not path.is_file():
        raise EvaluationError(
            f"{what} {path} does not exist; check the path (and the dataset folder layout)."
        )
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise EvaluationError(f"{path}, line {line}: not UTF-8 text; save the file as UTF-8.") from None


def read_json_list(path: str | Path, allow_empty: bool = False) -> list[dict[str, Any]]:
    """A benchmark's JSON list of annotation objects (an empty list only with ``allow_empty``)."""
    path = Path(path)
    text = read_text(path, "Annotation file")
    if not text.strip():
        raise EvaluationError(f"The annotation file {path} is empty; it should hold a JSON list of entries.")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EvaluationError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg}).") from None
    if not isinstance(data, list):
        raise EvaluationError(f"{path}: expected a JSON list of annotations, got {type(data).__name__}.")
    if not data and not allow_empty:
        raise EvaluationError(f"The annotation file {path} holds an empty list; no query to evaluate.")
    return data


def entries(path: str | Path, data: list, required: tuple[str, ...]) -> list[dict[str, Any]]:
    """``data``'s entries, each checked to be an object holding every ``required`` key."""
    for index, entry in enumerate(data):
        if not isinstance(entry, dict):
            raise EvaluationError(f"{path}: entry {index} is a JSON {type(entry).__name__}, not an object.")
        missing = [key for key in required if key not in entry]
        if missing:
            raise EvaluationError(
                f"{path}: entry {index} has no {', '.join(map(repr, missing))}; each entry needs "
                f"{', '.join(required)}."
            )
    return data


def image_id(path: str | Path, index: int, entry: dict, key: str) -> int:
    """A COCO id field as an int."""
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdigit():
        raise EvaluationError(
            f"{path}: entry {index}: {key!r} must be a COCO image id (a number), got {value!r:.60}."
        )
    return int(value)


def guess_kind(path: Path) -> str:
    """The kind of query set at ``path``, told by its name and, for folders and JSON files, its content."""
    if path.is_dir():
        names = {child.name for child in path.iterdir()}
        if any(name.startswith("cap.") and name.endswith(".json") for name in names):
            return "fashioniq"
        if any((path / name).is_dir() for name in names):
            raise EvaluationError(
                f"{path} is a folder but not FashionIQ's captions folder (no cap.<category>.<split>.json in "
                f"it). For a folder of class subfolders of images pass --kind folders; else {_KIND_HINT}."
            )
        raise EvaluationError(f"Cannot tell what kind of query set the folder {path} is; {_KIND_HINT}.")
    if not path.exists():
        raise EvaluationError(f"Query file {path} does not exist; pass the path of a query set.")
    if path.name.startswith("cap.rc2."):
        return "cirr"
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return "jsonl"
    if path.suffix.lower() == ".json":
        return _kind_of_json(path)
    raise EvaluationError(f"Cannot tell what kind of query set {path} is; {_KIND_HINT}.")


def _kind_of_json(path: Path) -> str:
    data = read_json_list(path)
    first = data[0] if isinstance(data[0], dict) else {}
    if "reference_img_id" in first:
        return "circo"
    if "reference" in first and "caption" in first:
        return "cirr"
    raise EvaluationError(
        f"{path} is a JSON list, but its first entry has neither CIRR's keys (reference, caption) nor "
        f"CIRCO's (reference_img_id, relative_caption); {_KIND_HINT}."
    )
