"""Loaders for the public composed-image-retrieval benchmarks' annotation files.

Each loader returns :class:`~mmrag_lab.evaluation.querysets.Query` objects whose image names are the
benchmark's own; :class:`~mmrag_lab.evaluation.querysets.ImageIndex` matches them to the stored collection
by file name or stem, so ingest the benchmark's image folder as it is.

- **CIRR** ``captions/cap.rc2.<split>.json``: ``reference``, ``caption``, ``target_hard`` and
  ``img_set.members`` (names such as ``dev-245-2-img0``, the stems of the PNG files).
- **FashionIQ** ``captions/cap.<category>.<split>.json``: ``candidate``, ``target`` and two ``captions``
  (ASINs, the stems of the image files).
- **CIRCO** ``annotations/<split>.json``: ``reference_img_id``, ``relative_caption`` and ``gt_img_ids``
  (COCO ids; see :func:`load_circo` for how they become file names).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from mmrag_lab.errors import EvaluationError
from mmrag_lab.evaluation.querysets import Query

FASHIONIQ_CATEGORIES = ("dress", "shirt", "toptee")


def load_cirr(captions_file: str | Path) -> list[Query]:
    """Load a CIRR caption file (``cap.rc2.val.json`` or ``cap.rc2.train.json``).

    The query id is the ``pairid``; ``img_set.members`` becomes the subset for Recall_subset@K.

    Raises:
        EvaluationError: The file has no ``target_hard`` (the test split: submit to the CIRR server instead).
    """
    queries = []
    for i, rec in enumerate(_read_json_list(captions_file)):
        if "target_hard" not in rec:
            raise EvaluationError(
                f"{captions_file}: entry {i} has no 'target_hard'; the CIRR test split keeps its targets "
                "on the evaluation server, so evaluate on cap.rc2.val.json instead."
            )
        members = (rec.get("img_set") or {}).get("members")
        queries.append(
            Query(
                query_id=str(rec.get("pairid", i)),
                image=str(rec["reference"]),
                instruction=str(rec["caption"]),
                targets=(str(rec["target_hard"]),),
                subset=None if members is None else tuple(str(m) for m in members),
            )
        )
    return queries


def join_fashioniq_captions(captions: Sequence[str]) -> str:
    """Join FashionIQ's two relative captions the usual deterministic way.

    Each caption loses leading/trailing ``.?,`` and spaces, the first is capitalised, and they are joined
    with `` and ``: ``["is red", "has long sleeves."]`` -> ``"Is red and has long sleeves"``. This is the
    validation join of the CLIP4Cir code that later zero-shot work reuses.
    """
    parts = [c.strip(".?, ") for c in captions if c and c.strip(".?, ")]
    if not parts:
        return ""
    return " and ".join([parts[0].capitalize(), *parts[1:]])


def load_fashioniq(
    captions_dir: str | Path,
    *,
    split: str = "val",
    categories: Sequence[str] = FASHIONIQ_CATEGORIES,
    join: Callable[[Sequence[str]], str] = join_fashioniq_captions,
) -> list[Query]:
    """Load FashionIQ's ``cap.<category>.<split>.json`` files; each query carries its category.

    Query ids are ``<category>-<index in file>``. Per-category metrics and their average are what the
    FashionIQ protocol reports (R@10 and R@50).
    """
    queries = []
    for category in categories:
        path = Path(captions_dir) / f"cap.{category}.{split}.json"
        for i, rec in enumerate(_read_json_list(path)):
            if "target" not in rec:
                raise EvaluationError(f"{path}: entry {i} has no 'target'; the test split cannot be scored.")
            queries.append(
                Query(
                    query_id=f"{category}-{i}",
                    image=str(rec["candidate"]),
                    instruction=join(rec.get("captions") or []),
                    targets=(str(rec["target"]),),
                    category=category,
                )
            )
    return queries


def coco_file_name(image_id: int | str) -> str:
    """COCO file naming: the id zero-padded to 12 digits, plus ``.jpg`` (2097 -> ``000000002097.jpg``)."""
    return f"{int(image_id):012d}.jpg"


def load_circo(
    annotations_file: str | Path,
    *,
    id_to_name: Mapping[int, str] | Callable[[int], str] | str | Path | None = None,
) -> list[Query]:
    """Load CIRCO's ``val.json``; every ground truth in ``gt_img_ids`` is a target (scored with mAP@K).

    Args:
        annotations_file: ``annotations/val.json`` of the CIRCO repository.
        id_to_name: How a COCO id becomes an image name: a mapping, a function, or the path of COCO's
            ``image_info_unlabeled2017.json`` (its ``images[].file_name``). None uses :func:`coco_file_name`.
    """
    name_of = _circo_namer(id_to_name)
    queries = []
    for i, rec in enumerate(_read_json_list(annotations_file)):
        if "gt_img_ids" not in rec:
            raise EvaluationError(f"{annotations_file}: entry {i} has no 'gt_img_ids'; use the val split.")
        queries.append(
            Query(
                query_id=str(rec.get("id", i)),
                image=name_of(int(rec["reference_img_id"])),
                instruction=str(rec["relative_caption"]),
                targets=tuple(name_of(int(g)) for g in rec["gt_img_ids"]),
                meta={"shared_concept": rec.get("shared_concept")},
            )
        )
    return queries


def _circo_namer(id_to_name) -> Callable[[int], str]:
    if id_to_name is None:
        return coco_file_name
    if callable(id_to_name):
        return id_to_name
    if isinstance(id_to_name, (str, Path)):
        info = json.loads(Path(id_to_name).read_text(encoding="utf-8"))
        id_to_name = {int(img["id"]): str(img["file_name"]) for img in info["images"]}
    table = {int(k): str(v) for k, v in id_to_name.items()}

    def lookup(image_id: int) -> str:
        # An id the table lacks keeps the default name, so it is reported as missing rather than lost.
        return table.get(image_id, coco_file_name(image_id))

    return lookup


def _read_json_list(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise EvaluationError(f"Annotation file {path} does not exist; check the dataset folder layout.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise EvaluationError(f"{path}: not valid JSON ({exc.msg}).") from None
    if not isinstance(data, list):
        raise EvaluationError(f"{path}: expected a JSON list of annotations, got {type(data).__name__}.")
    return data


def load_queries(source: str | Path, kind: str | None = None, **kwargs) -> list[Query]:
    """Load a query set by kind (``jsonl``, ``cirr``, ``fashioniq``, ``circo``), guessing it from the name."""
    from mmrag_lab.evaluation.querysets import read_jsonl

    kind = kind or _guess_kind(Path(source))
    loaders = {"jsonl": read_jsonl, "cirr": load_cirr, "fashioniq": load_fashioniq, "circo": load_circo}
    if kind not in loaders:
        raise EvaluationError(f"Unknown query-set kind {kind!r}; choose one of {sorted(loaders)}.")
    return loaders[kind](source, **kwargs)


def _guess_kind(path: Path) -> str:
    if path.is_dir():
        return "fashioniq"
    if re.match(r"cap\.rc2\.", path.name):
        return "cirr"
    if path.suffix == ".jsonl":
        return "jsonl"
    raise EvaluationError(
        f"Cannot tell what kind of query set {path} is; pass kind='jsonl', 'cirr', 'fashioniq' or 'circo'."
    )
