"""Loaders for the public composed-image-retrieval benchmarks' annotation files.

Each loader returns :class:`~mmrag_lab.evaluation.querysets.Query` objects whose image names are the
benchmark's own; :class:`~mmrag_lab.evaluation.querysets.ImageIndex` matches them to the stored collection
by file name or stem, so ingest the benchmark's image folder as it is.

- **CIRR** ``captions/cap.rc2.<split>.json``: ``reference``, ``caption``, ``target_hard``, ``target_soft``
  and ``img_set.members`` (names such as ``dev-245-2-img0``, the stems of the PNG files).
- **FashionIQ** ``captions/cap.<category>.<split>.json``: ``candidate``, ``target`` and two ``captions``
  (ASINs, the stems of the image files); ``image_splits/split.<category>.<split>.json`` lists the images
  each category is searched in.
- **CIRCO** ``annotations/<split>.json``: ``reference_img_id``, ``relative_caption``, ``target_img_id`` and
  ``gt_img_ids`` (COCO ids; see :func:`load_circo` for how they become file names).

Test splits carry no ground truth; ``unlabelled=True`` loads them (targets empty) for submission files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from mmrag_lab.errors import EvaluationError
from mmrag_lab.evaluation.querysets import Query

FASHIONIQ_CATEGORIES = ("dress", "shirt", "toptee")


def load_cirr(captions_file: str | Path, *, soft: bool = False, unlabelled: bool = False) -> list[Query]:
    """Load a CIRR caption file (``cap.rc2.val.json``, ``cap.rc2.train.json``, or ``cap.rc2.test1.json``).

    The query id is the ``pairid``; ``img_set.members`` becomes the subset for Recall_subset@K.

    Args:
        captions_file: The caption file.
        soft: Also keep ``target_soft`` (``{name: 1.0 | 0.5 | -1.0}``) for CIRPLANT's graded Recall@K.
        unlabelled: Accept entries without ``target_hard`` (the test split, for a submission file).

    Raises:
        EvaluationError: An entry has no ``target_hard`` and ``unlabelled`` is False.
    """
    queries = []
    for i, rec in enumerate(_read_json_list(captions_file)):
        if "target_hard" not in rec and not unlabelled:
            raise EvaluationError(
                f"{captions_file}: entry {i} has no 'target_hard'; the CIRR test split keeps its targets "
                "on the evaluation server: write its submission file with --submission, or evaluate on "
                "cap.rc2.val.json."
            )
        members = (rec.get("img_set") or {}).get("members")
        graded = rec.get("target_soft") if soft else None
        queries.append(
            Query(
                query_id=str(rec.get("pairid", i)),
                image=str(rec["reference"]),
                instruction=str(rec["caption"]),
                targets=(str(rec["target_hard"]),) if "target_hard" in rec else (),
                subset=None if members is None else tuple(str(m) for m in members),
                meta={}
                if graded is None
                else {"soft_targets": {str(k): float(v) for k, v in graded.items()}},
            )
        )
    return queries


def join_fashioniq_captions(captions: Sequence[str]) -> str:
    """Join FashionIQ's two relative captions exactly as CLIP4Cir's validation does.

    ``f"{c0.strip('.?, ').capitalize()} and {c1.strip('.?, ')}"``: ``["is red", "has long sleeves."]`` ->
    ``"Is red and has long sleeves"``. An empty caption stays in (``["", "is red"]`` -> ``" and is red"``),
    as in CLIP4Cir (``validate.py``), which later zero-shot work reuses; ``str.capitalize`` lower-cases the
    rest of the first caption there too.
    """
    first, second = (list(captions) + ["", ""])[:2]
    return f"{(first or '').strip('.?, ').capitalize()} and {(second or '').strip('.?, ')}"


def load_fashioniq(
    captions_dir: str | Path,
    *,
    split: str = "val",
    categories: Sequence[str] = FASHIONIQ_CATEGORIES,
    join: Callable[[Sequence[str]], str] = join_fashioniq_captions,
    image_splits: str | Path | None = None,
) -> list[Query]:
    """Load FashionIQ's ``cap.<category>.<split>.json`` files; each query carries its category.

    Query ids are ``<category>-<index in file>``. Per-category metrics and their average are what the
    FashionIQ protocol reports (R@10 and R@50). Each query also carries its category's image list
    (``meta["pool"]``, from ``split.<category>.<split>.json``), so that it is searched among those images
    only, as CLIP4Cir does.

    Args:
        captions_dir: The ``captions`` folder.
        split: ``val`` (or ``train``).
        categories: Any of dress, shirt, toptee.
        join: How the two captions become one instruction.
        image_splits: The ``image_splits`` folder; default ``captions_dir/../image_splits`` when it exists.
            Without it every category is searched in the whole collection (recorded in the run).
    """
    splits = Path(image_splits) if image_splits else Path(captions_dir).parent / "image_splits"
    queries = []
    for category in categories:
        path = Path(captions_dir) / f"cap.{category}.{split}.json"
        pool_file = splits / f"split.{category}.{split}.json"
        meta = {"pool": tuple(map(str, _read_json_list(pool_file)))} if pool_file.is_file() else {}
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
                    meta=meta,
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
    unlabelled: bool = False,
) -> list[Query]:
    """Load CIRCO's ``val.json`` (or ``test.json`` with ``unlabelled=True``, for a submission file).

    Every ground truth in ``gt_img_ids`` is a target (scored with mAP@K); ``target_img_id`` is kept apart
    (``meta["primary_target"]``), since CIRCO's Recall@K counts that image only.

    Args:
        annotations_file: ``annotations/val.json`` of the CIRCO repository.
        id_to_name: How a COCO id becomes an image name: a mapping, a function, or the path of COCO's
            ``image_info_unlabeled2017.json`` (its ``images[].file_name``). None uses :func:`coco_file_name`.
        unlabelled: Accept entries without ``gt_img_ids`` (the test split).
    """
    name_of = _circo_namer(id_to_name)
    coco_ids = _coco_ids(name_of)
    queries = []
    for i, rec in enumerate(_read_json_list(annotations_file)):
        if "gt_img_ids" not in rec and not unlabelled:
            raise EvaluationError(
                f"{annotations_file}: entry {i} has no 'gt_img_ids'; write the test split's submission file "
                "with --submission, or evaluate on val.json."
            )
        meta = {"shared_concept": rec.get("shared_concept"), "coco_ids": coco_ids}
        if "target_img_id" in rec:
            meta["primary_target"] = name_of(int(rec["target_img_id"]))
        queries.append(
            Query(
                query_id=str(rec.get("id", i)),
                image=name_of(int(rec["reference_img_id"])),
                instruction=str(rec["relative_caption"]),
                targets=tuple(name_of(int(g)) for g in rec.get("gt_img_ids", ())),
                meta=meta,
            )
        )
    return queries


def _coco_ids(name_of) -> dict[str, int] | None:
    """File name -> COCO id when a table names the files (None: the id is the file's numeric stem)."""
    table = getattr(name_of, "table", None)
    return None if table is None else {name: image_id for image_id, name in table.items()}


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

    lookup.table = table  # type: ignore[attr-defined]
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

    kind = kind or guess_kind(Path(source))
    loaders = {"jsonl": read_jsonl, "cirr": load_cirr, "fashioniq": load_fashioniq, "circo": load_circo}
    if kind not in loaders:
        raise EvaluationError(f"Unknown query-set kind {kind!r}; choose one of {sorted(loaders)}.")
    return loaders[kind](source, **kwargs)


def guess_kind(path: Path) -> str:
    """The query-set kind a file or folder name suggests (``cirr``, ``fashioniq`` or ``jsonl``)."""
    if path.is_dir():
        return "fashioniq"
    if re.match(r"cap\.rc2\.", path.name):
        return "cirr"
    if path.suffix == ".jsonl":
        return "jsonl"
    raise EvaluationError(
        f"Cannot tell what kind of query set {path} is; pass kind='jsonl', 'cirr', 'fashioniq' or 'circo'."
    )
