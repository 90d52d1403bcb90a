"""Loaders for the public composed-image-retrieval benchmarks' annotation files.

Each loader returns :class:`~mmrag_lab.evaluation.inputs.querysets.Query` objects whose image names are the
benchmark's own; :class:`~mmrag_lab.evaluation.inputs.querysets.ImageIndex` matches them to the stored collection
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

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from mmrag_lab.errors import EvaluationError
from mmrag_lab.evaluation.inputs.annotations import (
    KINDS,
    entries,
    guess_kind,
    image_id,
    read_json_list,
    read_text,
)
from mmrag_lab.evaluation.inputs.querysets import Query

__all__ = ["guess_kind", "load_circo", "load_cirr", "load_fashioniq", "load_queries"]

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
    for i, rec in enumerate(entries(captions_file, read_json_list(captions_file), ("reference", "caption"))):
        if "target_hard" not in rec and not unlabelled:
            raise EvaluationError(
                f"{captions_file}: entry {i} has no 'target_hard'; the CIRR test split keeps its targets "
                "on the evaluation server: write its submission file with --submission, or evaluate on "
                "cap.rc2.val.json."
            )
        img_set = rec.get("img_set") or {}
        members = img_set.get("members") if isinstance(img_set, dict) else None
        graded = rec.get("target_soft") if soft else None
        if not isinstance(members, (list, type(None))) or not isinstance(graded, (dict, type(None))):
            raise EvaluationError(
                f"{captions_file}: entry {i}: img_set.members must be a list and target_soft an object."
            )
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
        meta = {"pool": tuple(map(str, read_json_list(pool_file, True)))} if pool_file.is_file() else {}
        for i, rec in enumerate(entries(path, read_json_list(path, allow_empty=True), ("candidate",))):
            if "target" not in rec:
                raise EvaluationError(f"{path}: entry {i} has no 'target'; the test split cannot be scored.")
            if not isinstance(rec.get("captions") or [], list):
                raise EvaluationError(f"{path}: entry {i}: 'captions' must be a list of two texts.")
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
    if not queries:
        raise EvaluationError(
            f"FashionIQ's {split} caption files in {captions_dir} hold no entries for {', '.join(categories)}."
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
    data = read_json_list(annotations_file)
    for i, rec in enumerate(entries(annotations_file, data, ("reference_img_id", "relative_caption"))):
        if "gt_img_ids" not in rec and not unlabelled:
            raise EvaluationError(
                f"{annotations_file}: entry {i} has no 'gt_img_ids'; write the test split's submission file "
                "with --submission, or evaluate on val.json."
            )
        meta = {"shared_concept": rec.get("shared_concept"), "coco_ids": coco_ids}
        if "target_img_id" in rec:
            meta["primary_target"] = name_of(image_id(annotations_file, i, rec, "target_img_id"))
        truth = rec.get("gt_img_ids", [])
        if not isinstance(truth, list):
            raise EvaluationError(f"{annotations_file}: entry {i}: 'gt_img_ids' must be a list of COCO ids.")
        queries.append(
            Query(
                query_id=str(rec.get("id", i)),
                image=name_of(image_id(annotations_file, i, rec, "reference_img_id")),
                instruction=str(rec["relative_caption"]),
                targets=tuple(name_of(image_id(annotations_file, i, {"g": g}, "g")) for g in truth),
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
        id_to_name = _coco_table(Path(id_to_name))
    table = {int(k): str(v) for k, v in id_to_name.items()}

    def lookup(image_id: int) -> str:
        # An id the table lacks keeps the default name, so it is reported as missing rather than lost.
        return table.get(image_id, coco_file_name(image_id))

    lookup.table = table  # type: ignore[attr-defined]
    return lookup


def _coco_table(path: Path) -> dict[int, str]:
    import json

    try:
        info = json.loads(read_text(path, "COCO image info file"))
        return {int(img["id"]): str(img["file_name"]) for img in info["images"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise EvaluationError(
            f"{path} is not COCO's image_info file (a JSON object whose 'images' list holds id and "
            f"file_name): {type(exc).__name__} {exc}."
        ) from None


def load_queries(source: str | Path, kind: str | None = None, **kwargs) -> list[Query]:
    """Load a query set by kind (``jsonl``, ``cirr``, ``fashioniq``, ``circo``, ``folders``), or by what
    :func:`~mmrag_lab.evaluation.inputs.annotations.guess_kind` finds at ``source``.

    Raises:
        EvaluationError: An unknown kind (the known ones are listed), or a file the loader refuses.
    """
    from mmrag_lab.evaluation.inputs.folders import folder_queries
    from mmrag_lab.evaluation.inputs.querysets import read_jsonl

    kind = kind or guess_kind(Path(source))
    loaders = {"jsonl": read_jsonl, "cirr": load_cirr, "fashioniq": load_fashioniq, "circo": load_circo,
               "folders": folder_queries}  # fmt: skip
    if kind not in loaders:
        raise EvaluationError(f"Unknown query-set kind {kind!r}; choose one of {', '.join(KINDS)}.")
    return loaders[kind](source, **kwargs)
