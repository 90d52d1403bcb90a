"""How a query's vector and its keywords are fused, and which store search a query needs.

``fusion`` is ``"rrf"`` (reciprocal rank fusion, Cormack et al. 2009: ``sum 1 / (60 + rank)``; the default),
``"rrf:C"`` (another constant), or ``"weighted:W"``: ``(1 - W) * dense + W * bm25`` on Milvus's normalised
scores, so ``W`` is the weight of the keywords: ``weighted:1`` is BM25 alone, ``weighted:0`` the vector
alone. Milvus's own ``hybrid_search`` does the fusion (:mod:`mmrag_lab.store.keyword_search`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mmrag_lab.errors import QueryError
from mmrag_lab.images import is_same_file
from mmrag_lab.store.keyword_search import RRF_K
from mmrag_lab.store.vector_store import Store

MAX_K = 16384  # Milvus' top-k limit
FUSIONS = "rrf, rrf:C (C > 0, default 60) or weighted:W (W from 0 to 1, the keywords' weight)"


@dataclass(frozen=True)
class Fusion:
    """A parsed fusion: ``kind`` is ``rrf`` or ``weighted``; ``value`` RRF's constant or the keywords' weight."""

    kind: str = "rrf"
    value: float = RRF_K

    @classmethod
    def parse(cls, spec: str | None) -> Fusion:
        """Read ``rrf``, ``rrf:C`` or ``weighted:W``.

        Raises:
            QueryError: Anything else, with the forms it takes.
        """
        if spec is None or spec == "rrf":
            return cls()
        if not isinstance(spec, str):
            raise QueryError(f"fusion must be a text, {FUSIONS}; got {spec!r}.")
        kind, _, number = spec.strip().lower().partition(":")
        try:
            value = float(number)
        except ValueError:
            value = float("nan")
        if kind == "rrf" and value > 0:
            return cls("rrf", value)
        if kind == "weighted" and 0.0 <= value <= 1.0:
            return cls("weighted", value)
        raise QueryError(f"fusion {spec!r} is not one of {FUSIONS}.")

    @property
    def label(self) -> str:
        return f"rrf:{self.value:g}" if self.kind == "rrf" else f"weighted:{self.value:g}"


def find_rows(
    store: Store, vector: Any, keywords: str | None, k: int, expression: str | None, fusion: Fusion, own: Any
) -> list[dict[str, Any]]:
    """The top ``k`` rows for a vector, keywords or both, leaving out the query's own file (``own``)."""
    fetch: Callable[[int], list[dict[str, Any]]]
    if vector is not None and keywords:
        spec = (fusion.kind, fusion.value)
        fetch = lambda limit: store.hybrid_search(vector, keywords, limit, expression, spec)  # noqa: E731
    elif keywords:
        fetch = lambda limit: store.keyword_search(keywords, limit, expression)  # noqa: E731
    else:
        fetch = lambda limit: _dense(store, vector, limit, expression)  # noqa: E731
    limit = k + 1 if own else k
    while True:  # ask for k+1, and for more when the query's bytes have several names
        rows = fetch(limit)
        kept = [row for row in rows if not is_same_file(row, own)]
        if len(kept) >= k or len(rows) < limit or limit >= MAX_K:
            return kept[:k]
        limit = min(MAX_K, limit * 2)


def _dense(store: Store, vector: Any, limit: int, expression: str | None) -> list[dict[str, Any]]:
    rows = store.search(vector, k=limit, filter=expression)[0]
    for rank, row in enumerate(rows, start=1):
        row["found_by"] = {"dense": {"rank": rank, "score": row["score"]}}
    return rows
