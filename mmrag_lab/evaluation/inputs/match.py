"""Match a query set's image names to a stored collection, and report what does not match."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mmrag_lab.evaluation.inputs.querysets import ImageIndex, Query
from mmrag_lab.evaluation.running.aggregate import RankedQuery


@dataclass(frozen=True)
class MatchedQuery:
    """A query whose names are matched to collection ids.

    Attributes:
        query: The query as loaded.
        image_path: The file to encode as the query image.
        reference_id: The collection id of the query image, or None when it is not stored.
        target_ids: Collection ids of the targets that are stored.
        missing_targets: Target names that match no stored image (reported, never dropped silently).
        subset_ids: Collection ids of the stored ``subset`` members, or None when the query has no subset.
        primary_id: The collection id of CIRCO's ``target_img_id`` (None elsewhere or when not stored).
        graded: ``(id, grade)`` of the stored CIRR soft targets, or None when soft targets are not scored.
    """

    query: Query
    image_path: str
    reference_id: str | None
    target_ids: tuple[str, ...]
    missing_targets: tuple[str, ...]
    subset_ids: tuple[str, ...] | None = None
    primary_id: str | None = None
    graded: tuple[tuple[str, float], ...] | None = None

    def ranked(self, ranking: Sequence[str], subset: Sequence[str] | None) -> RankedQuery:
        """This query with a ranking (and a ranked subset), ready for the metrics."""
        return RankedQuery(
            query_id=self.query.query_id,
            ranking=tuple(ranking),
            targets=self.target_ids,
            missing_targets=self.missing_targets,
            category=self.query.category,
            subset=None if subset is None else tuple(subset),
            primary=self.primary_id,
            graded=self.graded,
        )


@dataclass
class MatchReport:
    """What matching found: the usable queries and the ones with problems."""

    matched: list[MatchedQuery] = field(default_factory=list)
    unmatched_images: dict[str, str] = field(default_factory=dict)
    missing_subset_members: int = 0
    ambiguous_names: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """A JSON-ready summary (counts plus the query ids concerned)."""
        with_missing = [m.query.query_id for m in self.matched if m.missing_targets]
        return {
            "n_matched": len(self.matched),
            "unmatched_query_images": dict(self.unmatched_images),
            "queries_with_missing_targets": with_missing,
            "n_missing_targets": sum(len(m.missing_targets) for m in self.matched),
            "n_missing_subset_members": self.missing_subset_members,
            "n_ambiguous_names": len(self.ambiguous_names),
        }


def match_queries(
    queries: Sequence[Query], index: ImageIndex, *, base_dir: str | Path | None = None
) -> MatchReport:
    """Find each query's image, targets and subset members in the collection.

    A query image that is neither stored nor an existing file (relative names are tried against
    ``base_dir``) cannot be encoded: the query is listed in ``unmatched_images`` with the reason.

    Args:
        queries: The loaded query set.
        index: Names of the stored images (see :class:`ImageIndex`).
        base_dir: Folder that relative query-image paths are relative to (the query file's folder).
    """
    report = MatchReport(ambiguous_names=index.ambiguous())
    for q in queries:
        ref_id = index.resolve(q.image)
        path = index.path_of(ref_id) if ref_id is not None else _existing_file(q.image, base_dir)
        if path is None:
            report.unmatched_images[q.query_id] = f"query image {q.image!r} is not stored and is not a file"
            continue
        resolved = [(t, index.resolve(t)) for t in q.targets]
        subset = None
        if q.subset is not None:
            found = [index.resolve(m) for m in q.subset]
            report.missing_subset_members += sum(f is None for f in found)
            subset = tuple(dict.fromkeys(f for f in found if f is not None))
        report.matched.append(
            MatchedQuery(
                query=q,
                image_path=path,
                reference_id=ref_id,
                target_ids=tuple(dict.fromkeys(cid for _, cid in resolved if cid is not None)),
                missing_targets=tuple(t for t, cid in resolved if cid is None),
                subset_ids=subset,
                primary_id=_resolve_optional(index, q.meta.get("primary_target")),
                graded=_graded(index, q.meta.get("soft_targets")),
            )
        )
    return report


def _resolve_optional(index: ImageIndex, name: str | None) -> str | None:
    # A primary target that is not stored keeps its name, so it never hits rather than counting any target.
    return None if name is None else index.resolve(name) or f"<not stored: {name}>"


def _graded(index: ImageIndex, soft: dict[str, float] | None) -> tuple[tuple[str, float], ...] | None:
    if soft is None:
        return None
    resolved = [(index.resolve(name), grade) for name, grade in soft.items()]
    return tuple((cid, grade) for cid, grade in resolved if cid is not None)


def _existing_file(name: str, base_dir: str | Path | None) -> str | None:
    for candidate in (Path(name), Path(base_dir) / name if base_dir else None):
        if candidate is not None and candidate.is_file():
            return str(candidate)
    return None
