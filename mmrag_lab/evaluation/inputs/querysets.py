"""Query sets: our JSON Lines format, and matching query images and targets to a stored collection.

One query per line::

    {"id": "q1", "image": "photos/red_dress.jpg", "instruction": "make it blue",
     "targets": ["blue_dress", "photos/blue_dress_2.jpg"], "category": "dress"}

``image`` and each target may be a collection id, a file path, a file name or a file stem; ``id`` and
``category`` are optional, and ``subset`` (CIRR ``img_set`` members) is optional too.
:class:`ImageIndex` decides which stored image each of those names means.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath

from mmrag_lab.errors import EvaluationError


@dataclass(frozen=True)
class Query:
    """A composed query and its ground truth, with image names not yet matched to a collection.

    Attributes:
        query_id: Stable id (the line number when the file gives none).
        image: The query (reference) image: a collection id, path, file name or stem.
        instruction: What to change.
        targets: Ground-truth images, named like ``image``.
        category: Optional category, e.g. the FashionIQ garment type.
        subset: Optional CIRR ``img_set`` members for Recall_subset@K.
    """

    query_id: str
    image: str
    instruction: str
    targets: tuple[str, ...]
    category: str | None = None
    subset: tuple[str, ...] | None = None
    meta: dict = field(default_factory=dict, compare=False)

    def to_json(self) -> dict:
        """The JSON Lines record of this query (optional fields only when set)."""
        out: dict = {"id": self.query_id, "image": self.image, "instruction": self.instruction}
        out["targets"] = list(self.targets)
        if self.category is not None:
            out["category"] = self.category
        if self.subset is not None:
            out["subset"] = list(self.subset)
        return out


def read_jsonl(path: str | Path) -> list[Query]:
    """Load a query set in our JSON Lines format.

    A relative image path that names a file next to the query file is made absolute, so a query set and
    its images can move together.

    Raises:
        EvaluationError: The file is missing, a line is not JSON, or a required field is absent.
    """
    from mmrag_lab.evaluation.inputs.annotations import read_text

    path = Path(path)
    text = read_text(path, "Query file")
    queries = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            query = _parse_line(line, f"{path}, line {lineno}", default_id=str(lineno))
            queries.append(_anchor(query, path.parent))
    if not queries:
        raise EvaluationError(f"The query file {path} is empty; write one JSON object per line (see --help).")
    _check_unique_ids(queries, path)
    return queries


def write_jsonl(queries: Iterable[Query], path: str | Path) -> Path:
    """Write queries in our JSON Lines format (UTF-8, one object per line) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(q.to_json(), ensure_ascii=False) for q in queries]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _parse_line(line: str, where: str, default_id: str) -> Query:
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as exc:
        raise EvaluationError(
            f"{where}: not valid JSON ({exc.msg}, column {exc.colno}); write one JSON object per line."
        ) from None
    if not isinstance(rec, dict):
        raise EvaluationError(f"{where}: a JSON {type(rec).__name__}, not an object; {_FIELDS}.")
    missing = [k for k in ("image", "instruction", "targets") if k not in rec]
    if missing:
        raise EvaluationError(f"{where}: missing field(s) {', '.join(missing)}; {_FIELDS}.")
    targets = rec["targets"]
    targets = [targets] if isinstance(targets, (str, int)) and not isinstance(targets, bool) else targets
    if not targets:
        raise EvaluationError(f"{where}: 'targets' is empty; give at least one target image.")
    subset = rec.get("subset")
    _check_types(where, rec, targets, subset)
    return Query(
        query_id=str(rec.get("id", default_id)),
        image=str(rec["image"]),
        instruction=str(rec["instruction"]),
        targets=tuple(str(t) for t in targets),
        category=None if rec.get("category") is None else str(rec["category"]),
        subset=None if subset is None else tuple(str(s) for s in subset),
        meta={"fields": {k: v for k, v in rec.items() if k not in _KNOWN}},
    )


_KNOWN = ("id", "image", "instruction", "targets", "category", "subset")
_FIELDS = 'each query is {"image": name, "instruction": text, "targets": [names]} (id, category optional)'


def _is_name(value: object) -> bool:
    return (isinstance(value, str) and bool(value.strip())) or (
        isinstance(value, int) and not isinstance(value, bool)
    )


def _check_types(where: str, rec: dict, targets: object, subset: object) -> None:
    problems = []
    if not _is_name(rec["image"]):
        problems.append(f"'image' must be a file name or id, got {rec['image']!r:.40}")
    if not isinstance(rec["instruction"], str):
        problems.append(f"'instruction' must be text, got {rec['instruction']!r:.40}")
    if not isinstance(targets, list) or not all(map(_is_name, targets)):
        problems.append(f"'targets' must be a list of file names or ids, got {targets!r:.40}")
    if subset is not None and (not isinstance(subset, list) or not all(map(_is_name, subset))):
        problems.append(f"'subset' must be a list of file names or ids, got {subset!r:.40}")
    for key in ("id", "category"):
        if rec.get(key) is not None and not _is_name(rec[key]):
            problems.append(f"{key!r} must be text or a number, got {rec[key]!r:.40}")
    if problems:
        raise EvaluationError(f"{where}: {'; '.join(problems)}.")


def _anchor(q: Query, folder: Path) -> Query:
    def fix(name: str) -> str:
        candidate = folder / name
        return str(candidate.resolve()) if not Path(name).is_absolute() and candidate.is_file() else name

    subset = None if q.subset is None else tuple(map(fix, q.subset))
    return replace(q, image=fix(q.image), targets=tuple(map(fix, q.targets)), subset=subset)


def _check_unique_ids(queries: Sequence[Query], source: object) -> None:
    seen: set[str] = set()
    dupes = sorted({q.query_id for q in queries if q.query_id in seen or seen.add(q.query_id)})
    if dupes:
        raise EvaluationError(f"{source}: repeated query id(s) {dupes[:5]}; give every query its own id.")


class ImageIndex:
    """Finds the stored image a name means: by collection id, then full path, then file name, then stem.

    A file name or stem that two stored images share is ambiguous and matches nothing; such names are
    listed by :meth:`ambiguous`, so a query set can use a longer name instead.
    """

    def __init__(self, records: Iterable[tuple[object, str]]):
        self._paths: dict[str, str] = {}
        self._keys: dict[str, str | None] = {}
        for raw_id, path in records:
            cid = str(raw_id)
            self._paths[cid] = str(path)
            for key in {str(path), PurePath(path).name, PurePath(path).stem}:
                self._keys[key] = cid if self._keys.get(key, cid) == cid else None
        self._ambiguous = sorted(k for k, v in self._keys.items() if v is None)

    def __len__(self) -> int:
        return len(self._paths)

    def __contains__(self, name: object) -> bool:
        return self.resolve(str(name)) is not None

    def resolve(self, name: str) -> str | None:
        """The collection id that ``name`` means, or None when no single stored image matches."""
        if name in self._paths:
            return name
        for key in (name, str(Path(name).resolve()) if Path(name).exists() else None, PurePath(name).name):
            if key is not None and self._keys.get(key):
                return self._keys[key]
        stem = PurePath(name).stem
        return self._keys.get(stem) or None

    def path_of(self, collection_id: str) -> str:
        """The stored path of an image id."""
        return self._paths[collection_id]

    def ambiguous(self) -> list[str]:
        """File names and stems that several stored images share."""
        return list(self._ambiguous)
