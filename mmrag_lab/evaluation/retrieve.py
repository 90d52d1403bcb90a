"""The retrieval stage of an evaluation: encode every query in batches, search, rank with the tie policy.

All queries are encoded in encoder-sized batches and searched in large batches against the store, which
is far faster than one :func:`mmrag_lab.retrieval.query.search` call per query. Subset members (CIRR) are scored
exactly from their stored vectors, since a top-K search need not reach them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from mmrag_lab.encoders.base import Encoder
from mmrag_lab.errors import ImageLoadError
from mmrag_lab.evaluation.match import MatchedQuery
from mmrag_lab.evaluation.metrics import order_ties, rank_by_score

SEARCH_BATCH = 256


@dataclass(frozen=True)
class Retrieved:
    """One query's retrieval result after exclusion and tie-breaking."""

    ranking: tuple[str, ...]
    scores: tuple[float, ...]
    subset: tuple[str, ...] | None
    paths: dict[str, str]


def encode_all(
    encoder: Encoder, matched: Sequence[MatchedQuery], batch_size: int, progress: bool = False
) -> tuple[np.ndarray, list[int], dict[str, str]]:
    """Embed every query; an unreadable query image fails only its own query.

    Returns:
        The vectors of the queries that could be encoded, their positions in ``matched``, and
        ``{query_id: reason}`` for the others.
    """
    vectors, kept, failed = [], [], {}
    bar = tqdm(
        total=len(matched),
        desc="encode queries",
        unit="query",
        disable=not progress or len(matched) <= batch_size,
    )
    for start in range(0, len(matched), batch_size):
        chunk = list(range(start, min(start + batch_size, len(matched))))
        try:
            vectors.append(_encode(encoder, [matched[i] for i in chunk]))
            kept += chunk
        except ImageLoadError:
            for i in chunk:  # find the bad file(s); the rest of the batch still counts
                try:
                    vectors.append(_encode(encoder, [matched[i]]))
                    kept.append(i)
                except ImageLoadError as exc:
                    failed[matched[i].query.query_id] = str(exc)
        bar.update(len(chunk))
    bar.close()
    dim = encoder.dim
    return (np.concatenate(vectors) if vectors else np.zeros((0, dim), np.float32)), kept, failed


def _encode(encoder: Encoder, items: Sequence[MatchedQuery]) -> np.ndarray:
    images = [m.image_path for m in items]
    return encoder.encode_queries(images, [m.query.instruction for m in items], batch_size=len(items))


def search_all(store, vectors: np.ndarray, depth: int) -> list[list[dict]]:
    """Top-``depth`` hits (``id``, ``score``, ``path``) of every vector, searched in large batches."""
    hits: list[list[dict]] = []
    for start in range(0, len(vectors), SEARCH_BATCH):
        hits += store.search(vectors[start : start + SEARCH_BATCH], k=depth, output_fields=["path"])
    return hits


def subset_scores(store, metric: str, vectors: np.ndarray, matched: Sequence[MatchedQuery]) -> list[dict]:
    """``{member_id: score}`` per query (empty when it has no subset), from the stored member vectors."""
    wanted = sorted({cid for m in matched for cid in (m.subset_ids or ())})
    rows = store.get(wanted, output_fields=["vector"]) if wanted else []
    table = {str(r["id"]): np.asarray(r["vector"], np.float32) for r in rows}
    out = []
    for vec, m in zip(vectors, matched, strict=True):
        ids = [cid for cid in (m.subset_ids or ()) if cid in table]
        out.append(dict(zip(ids, _similarity(metric, vec, [table[c] for c in ids]), strict=True)))
    return out


def _similarity(metric: str, query: np.ndarray, members: list[np.ndarray]) -> list[float]:
    if not members:
        return []
    stack = np.stack(members)
    if metric.upper() == "L2":
        return (-np.sum((stack - query) ** 2, axis=1)).tolist()
    if metric.upper() == "COSINE":
        stack = stack / np.maximum(np.linalg.norm(stack, axis=1, keepdims=True), 1e-12)
        query = query / max(float(np.linalg.norm(query)), 1e-12)
    return (stack @ query).tolist()


def rank_query(
    m: MatchedQuery,
    hits: Sequence[dict],
    subset: dict[str, float],
    *,
    depth: int,
    exclude_reference: bool,
    ties: str,
) -> Retrieved:
    """Order one query's hits (and subset) best first, drop the reference if asked, cut at ``depth``."""
    exclude = [m.reference_id] if exclude_reference and m.reference_id else []
    ranked = rank_by_score([str(h["id"]) for h in hits], [h["score"] for h in hits], exclude=exclude)[:depth]
    ids = order_ties(ranked, m.target_ids, ties)
    score_of = dict(ranked)
    ordered_subset = None
    if m.subset_ids is not None:
        members = rank_by_score(list(subset), list(subset.values()), exclude=exclude)
        ordered_subset = tuple(order_ties(members, m.target_ids, ties))
    return Retrieved(
        ranking=tuple(ids),
        scores=tuple(score_of[c] for c in ids),
        subset=ordered_subset,
        paths={str(h["id"]): str(h.get("path", "")) for h in hits},
    )
