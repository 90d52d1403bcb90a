"""Which evaluation protocol a run follows: each benchmark's official defaults, and the overrides.

The defaults follow the code that produced the published numbers:

- **CIRR**: the reference image is removed from the ranking (CLIP4Cir ``validate.py``, SEARLE
  ``generate_test_submission.py``; CIRPLANT pushes it to the end). Recall@K counts ``target_hard``; with
  ``cirr_soft`` it is CIRPLANT's graded recall over ``target_soft``.
- **CIRCO**: every image is ranked, the reference included (SEARLE ``validate.py`` and
  ``generate_test_submission.py``); mAP@K over ``gt_img_ids``, Recall@K of ``target_img_id``
  (CIRCO ``evaluation.py``).
- **FashionIQ**: CLIP4Cir ``validate.py``: each category is ranked among its own images
  (``image_splits``), the reference kept; R@10 and R@50 per category and their mean.
- Our JSON Lines and folder query sets leave the reference out (a query should not find itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mmrag_lab.errors import EvaluationError
from mmrag_lab.evaluation.inputs.querysets import Query

EXCLUDE_REFERENCE = {"cirr": True, "circo": False, "fashioniq": False, "jsonl": True, None: True}
REFERENCE_RULE = {
    "cirr": "CIRR: reference removed from the ranking (CLIP4Cir, SEARLE, CIRPLANT)",
    "circo": "CIRCO: reference kept, every image ranked (SEARLE validate.py, generate_test_submission.py)",
    "fashioniq": "FashionIQ: reference kept (CLIP4Cir validate.py)",
    "jsonl": "query set: reference removed",
    None: "query set: reference removed",
}
SUBMISSION_KINDS = ("cirr", "circo")


@dataclass(frozen=True)
class EvalProtocol:
    """How :func:`mmrag_lab.evaluate` scores a run: ``evaluate(..., protocol=EvalProtocol(ks=(1, 10)))``.

    The defaults follow each benchmark's official code (this module's docstring says whose).

    Attributes:
        ks: K values of Recall@K (one int means just that K).
        map_ks: K values of mAP@K (CIRCO).
        subset_ks: K values of Recall_subset@K (CIRR; computed for queries that have a subset).
        exclude_reference: Leave the query's own image out of its candidates; None follows the benchmark
            (CIRR removes it, CIRCO and FashionIQ keep it).
        ann: Rank through the collection's index instead of exactly, and report the index's recall@K
            against exact search for the same queries (``metrics["index_recall"]``).
        cirr_soft: CIRR: score ``target_soft`` the CIRPLANT way instead of ``target_hard`` alone.
        missing: ``skip`` or ``miss``: how targets absent from the collection count.
        ties: ``stable``, ``optimistic`` or ``pessimistic`` ordering of equal scores.
        query_template: How an annotation becomes the query text (a name in
            :data:`~mmrag_lab.evaluation.inputs.templates.QUERY_TEMPLATES`); None: the encoder's authors' choice.
        keywords_from: A query-set field whose text is each query's keywords, fused with its vector by
            Milvus's ``hybrid_search`` (the collection needs text fields: ``ingest --text-fields``).
        fusion: How keywords are fused: ``rrf`` (default), ``rrf:C`` or ``weighted:W``.
        feedback_rounds: Simulate this many rounds of relevance feedback by an oracle user (the labelled
            targets in the top ``feedback_k`` liked, the others unliked); each round is a run of its own
            that :func:`mmrag_lab.compare` accepts. Optimistic by design (docs/evaluation.md).
        feedback_k: Hits judged per round.
    """

    ks: int | Sequence[int] = (1, 5, 10, 50)
    map_ks: Sequence[int] = (5, 10, 25, 50)
    subset_ks: Sequence[int] = (1, 2, 3)
    exclude_reference: bool | None = None
    ann: bool = False
    cirr_soft: bool = False
    missing: str = "skip"
    ties: str = "stable"
    query_template: str | None = None
    keywords_from: str | None = None
    fusion: str | None = None
    feedback_rounds: int = 0
    feedback_k: int = 10


def describe(
    kind: str | None,
    exclude_reference: bool | None,
    queries: Sequence[Query],
    *,
    ann: bool,
    cirr_soft: bool,
    submission: bool,
) -> dict:
    """The protocol of a run, recorded in ``config.json`` and ``metrics.json``.

    Raises:
        EvaluationError: ``cirr_soft`` or ``submission`` for a benchmark that has no such thing.
    """
    if cirr_soft and kind != "cirr":
        raise EvaluationError("--cirr-soft scores CIRR's target_soft; use it with a CIRR caption file.")
    if submission and kind not in SUBMISSION_KINDS:
        raise EvaluationError(
            f"Submission files exist for {SUBMISSION_KINDS} test splits only, not for {kind or 'this query set'}."
        )
    default = EXCLUDE_REFERENCE.get(kind, True)
    exclude = default if exclude_reference is None else bool(exclude_reference)
    pooled = any("pool" in q.meta for q in queries)
    return {
        "benchmark": kind or "custom",
        "exclude_reference": exclude,
        "reference": REFERENCE_RULE.get(kind, REFERENCE_RULE[None])
        + ("" if exclude == default else f" -- OVERRIDDEN: reference {'removed' if exclude else 'kept'}"),
        "search": "ann (through the collection's index)" if ann else "exact (brute force over every vector)",
        "targets": _targets(kind, cirr_soft),
        "candidates": _candidates(kind, pooled),
        "submission": submission,
    }


def _targets(kind: str | None, cirr_soft: bool) -> str:
    if kind == "cirr":
        return "target_soft graded (CIRPLANT)" if cirr_soft else "target_hard (CLIP4Cir, SEARLE)"
    if kind == "circo":
        return "mAP@K: gt_img_ids; recall@K: target_img_id; recall_any@K: any of gt_img_ids"
    return "any listed target"


def _candidates(kind: str | None, pooled: bool) -> str:
    if pooled:
        return "each category's own images (image_splits), as CLIP4Cir"
    if kind == "fashioniq":
        return "the whole collection: image_splits/ not found, so categories were NOT searched apart"
    return "the whole collection"
