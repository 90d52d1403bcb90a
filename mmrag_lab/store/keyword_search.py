"""Keyword search: BM25 over a collection's text field, alone or fused with a vector search by Milvus.

Fusion is Milvus's own ``hybrid_search``: the dense request (the query vector) and the BM25 request (the
keywords) each return their top ``k`` under the same filter, and a ranker merges them:

* ``("rrf", c)``: reciprocal rank fusion (Cormack et al. 2009), ``score = sum 1 / (c + rank)``; Milvus's
  ``RRFRanker``, default ``c = 60``.
* ``("weighted", w)``: ``(1 - w) * dense + w * bm25`` on Milvus's normalised scores (``WeightedRanker``
  with ``norm_score=True``: arctan for BM25, so both lie in [0, 1]); ``w = 1`` is BM25 alone, ``w = 0``
  the vector alone.

Each hit says which request found it (``found_by``: each request's rank and score), read from the same two
requests sent alone. Milvus Lite reports plain BM25 scores negated; :attr:`Backend.bm25_sign` turns them
into scores where higher is better.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mmrag_lab.errors import ConfigError, QueryError, TextSearchUnsupportedError
from mmrag_lab.store import rows as store_rows
from mmrag_lab.store.record import CollectionRecord
from mmrag_lab.store.rows import SESSION
from mmrag_lab.store.schema import CORE_FIELDS, search_params
from mmrag_lab.store.text_fields import SPARSE_FIELD

if TYPE_CHECKING:
    from mmrag_lab.store.handle import CollectionHandle
    from mmrag_lab.store.manager import CollectionManager
    from mmrag_lab.store.reads import Reads

DENSE, KEYWORDS = "dense", "keywords"  # the names of the two requests in a hit's ``found_by``
RRF_K = 60  # RRF's constant (Cormack et al. 2009; Milvus's default)


def refuse_without_text_search(handle: CollectionHandle, option: str) -> None:
    """Refuse ``option`` on a backend without BM25 and hybrid search, in one line, before any work.

    Raises:
        TextSearchUnsupportedError: The backend (the Milvus 2.3 server) lacks them.
    """
    reason = handle.backend.text_search_refusal(handle.client)
    if reason:
        raise TextSearchUnsupportedError(f"{option} needs BM25 text search: {reason}.")


class TextSearch:
    """The BM25 and hybrid searches of one collection: a part of :class:`~mmrag_lab.store.vector_store.Store`
    that needs the collection's handle, its manager (the record says which text field it has) and its reads
    (the dense request alone, for ``found_by``)."""

    def __init__(self, handle: CollectionHandle, manager: CollectionManager, reads: Reads):
        self.handle = handle
        self.manager = manager
        self.reads = reads

    def require_text_search(self, option: str) -> None:
        """Refuse ``option`` on a backend without BM25 and hybrid search, in one line, before any work.

        Raises:
            TextSearchUnsupportedError: The backend (the Milvus 2.3 server) lacks them.
        """
        refuse_without_text_search(self.handle, option)

    def require_text_field(self, option: str = "--keywords") -> CollectionRecord:
        """The record of a collection that has a text field, or a one-line refusal naming what to do."""
        self.require_text_search(option)
        record = self.manager.require_record()
        if not record.text_fields:
            raise QueryError(
                f"{self.handle.where()} has no text field, so {option} has nothing to search. Add one from "
                "sidecar columns: mmrag migrate --text-fields title,caption (or ingest a new collection "
                "with --text-fields)."
            )
        return record

    def keyword_search(
        self,
        keywords: str,
        k: int = 10,
        filter: str | None = None,
        output_fields: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """The ``k`` rows whose text scores best under BM25 for ``keywords``, best first (score > 0)."""
        self.require_text_field()
        self.handle.load()
        answer = self.handle.call(
            "search", self.handle.collection, data=[keywords], anns_field=SPARSE_FIELD, limit=k, filter=filter or "",
            output_fields=list(output_fields or CORE_FIELDS), search_params={"metric_type": "BM25"},
            consistency_level=SESSION,
        )  # fmt: skip
        hits = [store_rows.to_hit(hit, self.handle.backend.bm25_sign) for hit in answer[0]]
        return _mark(hits, KEYWORDS)

    def hybrid_search(
        self,
        vector: np.ndarray,
        keywords: str,
        k: int = 10,
        filter: str | None = None,
        fusion: tuple[str, float] = ("rrf", RRF_K),
        output_fields: Sequence[str] | None = None,
        provenance: bool = True,
    ) -> list[dict[str, Any]]:
        """The ``k`` best rows for a query vector and keywords, fused by Milvus (see the module).

        Args:
            provenance: Also send the two requests alone, to say which found each hit (two more searches).

        Returns:
            Hits best first, each with ``score`` (the fused score) and ``found_by``: ``{"dense": {"rank",
            "score"}, "keywords": {...}}`` for the requests whose top ``k`` held it (empty without
            ``provenance``).
        """
        from pymilvus import AnnSearchRequest, RRFRanker, WeightedRanker

        record = self.require_text_field()
        self.handle.load()
        ef = search_params(record.index_type, record.metric, k, self.handle.backend.search_ef)
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        requests = [
            AnnSearchRequest([vector], "vector", ef, limit=k, expr=filter or None),
            AnnSearchRequest([keywords], SPARSE_FIELD, {"metric_type": "BM25"}, limit=k, expr=filter or None),
        ]
        kind, value = fusion
        ranker = RRFRanker(int(value)) if kind == "rrf" else WeightedRanker(1.0 - value, float(value))
        answer = self.handle.call(
            "hybrid_search", self.handle.collection, requests, ranker, limit=k,
            output_fields=list(output_fields or CORE_FIELDS), consistency_level=SESSION,
        )  # fmt: skip
        fused = [store_rows.to_hit(hit, 1.0) for hit in answer[0]]
        if not provenance:
            return _provenance(fused, [])
        dense = _mark(self.reads.search(vector, k=k, filter=filter, output_fields=["id"])[0], DENSE)
        words = self.keyword_search(keywords, k=k, filter=filter, output_fields=["id"])
        return _provenance(fused, dense + words)


def check_text_fields(record: CollectionRecord, wanted: tuple[str, ...], where: str) -> None:
    """Refuse an ingest whose ``text_fields`` differ from those the collection was made with."""
    if wanted and tuple(record.text_fields) != wanted:
        have = ",".join(record.text_fields) or "none"
        raise ConfigError(
            f"{where} has text fields {have}, not {','.join(wanted)}; change them with mmrag migrate "
            f"--text-fields {','.join(wanted)} (every vector is kept), or leave --text-fields out."
        )


def _mark(hits: list[dict[str, Any]], request: str) -> list[dict[str, Any]]:
    for rank, hit in enumerate(hits, start=1):
        hit["found_by"] = {request: {"rank": rank, "score": hit["score"]}}
    return hits


def _provenance(fused: list[dict[str, Any]], alone: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for hit in alone:
        found.setdefault(str(hit["id"]), {}).update(hit["found_by"])
    for hit in fused:
        hit["found_by"] = found.get(str(hit["id"]), {})
    return fused
