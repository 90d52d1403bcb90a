"""The steps the retrieval stage composes: encode queries in batches, search, score subsets, rank one query.

All queries are encoded in encoder-sized batches. By default they are ranked exactly against every stored
vector (:mod:`.exact`); with ``ann`` they are searched through the collection's index in large batches.
Subset members (CIRR) are always scored exactly from their stored vectors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from mmrag_lab.encoders.base import Encoder
from mmrag_lab.errors import ConfigError, ImageLoadError
from mmrag_lab.evaluation.inputs.match import MatchedQuery
from mmrag_lab.evaluation.inputs.querysets import ImageIndex
from mmrag_lab.evaluation.running.exact import VectorTable
from mmrag_lab.evaluation.running.metrics import order_ties, rank_by_score

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
    """Embed every query; an unreadable query image (or an instruction with a lone surrogate) fails only its
    own query.

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
        except (ImageLoadError, ConfigError):  # a bad image, or a text no encoder can read
            for i in chunk:  # find the bad file(s); the rest of the batch still counts
                try:
                    vectors.append(_encode(encoder, [matched[i]]))
                    kept.append(i)
                except (ImageLoadError, ConfigError) as exc:
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


def subset_scores(table: VectorTable, vectors: np.ndarray, matched: Sequence[MatchedQuery]) -> list[dict]:
    """``{member_id: score}`` per query (empty when it has no subset), scored exactly from the table."""
    out = []
    for vec, m in zip(vectors, matched, strict=True):
        ids = [cid for cid in (m.subset_ids or ()) if cid in table.position]
        rows = np.asarray([table.position[c] for c in ids], np.int64)
        scores = table.scores(vec[None, :], rows)[0].tolist() if ids else []
        out.append(dict(zip(ids, scores, strict=True)))
    return out


def pool_rows(
    matched: Sequence[MatchedQuery], index: ImageIndex, table: VectorTable
) -> list[np.ndarray | None]:
    """Per query, the table rows of its candidate pool (FashionIQ category images); None: every row."""
    resolved: dict[int, np.ndarray] = {}
    out: list[np.ndarray | None] = []
    for m in matched:
        pool = m.query.meta.get("pool")
        if pool is not None and id(pool) not in resolved:
            ids = (index.resolve(name) for name in pool)
            resolved[id(pool)] = np.asarray(
                sorted({table.position[c] for c in ids if c is not None}), np.int64
            )
        out.append(None if pool is None else resolved[id(pool)])
    return out


def ann_search(store, vectors: np.ndarray, depth: int, pools, table: VectorTable) -> list[list[dict]]:
    """The index's answers; a pool is applied after the search (so a pooled list can come up short)."""
    hits = search_all(store, vectors, depth)
    for i, pool in enumerate(pools):
        if pool is not None:
            allowed = {table.ids[r] for r in pool}
            hits[i] = [h for h in hits[i] if str(h["id"]) in allowed]
    return hits


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
