"""Evaluating keywords and relevance feedback: fused searches, and an oracle user over feedback rounds.

``--keywords-from FIELD`` takes each query's keywords from a field of the query set (a JSON Lines key
beside ``image`` and ``instruction``) and ranks it by Milvus's ``hybrid_search`` (the query vector fused
with BM25 over the collection's text field; a query without the field is a plain vector search).

``--feedback-rounds N`` simulates a user. Round 0 is the ordinary run. In each round every query's top
``K`` hits (``--feedback-k``, default :attr:`EvalProtocol.feedback_k`) are judged by the labels: targets are liked, the others unliked;
judgements add up over rounds (a row judged once keeps its judgement). The query vector is moved by Rocchio
(:mod:`mmrag_lab.retrieval.feedback`, its weights) from the first query, and every candidate is ranked
again, judged rows included, so each round is a run over the same candidates that ``mmrag compare`` pairs
with round 0.

The protocol is optimistic: the oracle's labels are the very targets that are scored, it never errs, and a
liked target that the user has already seen counts again when it rises. Real users judge fewer hits and
sometimes wrongly. A residual-collection protocol (judged rows removed from ranking and scoring) would be
stricter; read the gains here as an upper bound of what feedback can give.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mmrag_lab.errors import EvaluationError
from mmrag_lab.evaluation.inputs.match import MatchedQuery
from mmrag_lab.evaluation.running.exact import VectorTable
from mmrag_lab.retrieval.feedback import ROCCHIO
from mmrag_lab.retrieval.fusion import Fusion


def keyword_settings(field: str | None, fusion: str | None, queries: Sequence[Any]) -> dict | None:
    """What a run records of ``--keywords-from``: the field and the fusion; None without keywords.

    Raises:
        EvaluationError: No query of the set has the field.
    """
    if not field:
        return None
    if not any(_words(q, field) for q in queries):
        raise EvaluationError(
            f"No query in the query set has a field {field!r} to take keywords from; add it to the JSON "
            'Lines records (e.g. {"image": ..., "instruction": ..., "targets": [...], "title": "phone case"}).'
        )
    return {"from": field, "fusion": Fusion.parse(fusion).label}


def hybrid_hits(
    store: Any, vectors: np.ndarray, matched: Sequence[MatchedQuery], keywords: dict, depth: int, pools,
    table: VectorTable,
) -> list[list[dict]]:  # fmt: skip
    """Every query's top ``depth`` by Milvus's fused search; a pool is applied after the search."""
    fusion = Fusion.parse(keywords["fusion"])
    spec = (fusion.kind, fusion.value)
    hits = []
    for vector, m, pool in zip(vectors, matched, pools, strict=True):
        words = _words(m.query, keywords["from"])
        found = (
            store.hybrid_search(vector, words, depth, None, spec, output_fields=["path"], provenance=False)
            if words
            else store.search(vector, k=depth, output_fields=["path"])[0]
        )
        if pool is not None:
            allowed = {table.ids[r] for r in pool}
            found = [h for h in found if str(h["id"]) in allowed]
        hits.append(found)
    return hits


def next_vectors(
    first: np.ndarray, table: VectorTable, matched: Sequence[MatchedQuery], rankings: Sequence[Sequence[str]],
    judged: list[dict[str, bool]], k: int,
) -> np.ndarray:  # fmt: skip
    """The oracle judges each query's top ``k`` (``judged`` grows in place); Rocchio moves each query."""
    moved = np.empty_like(first)
    for i, (m, ranking) in enumerate(zip(matched, rankings, strict=True)):
        targets = set(m.target_ids)
        for cid in ranking[:k]:
            judged[i].setdefault(cid, cid in targets)
        liked = [table.position[c] for c, good in judged[i].items() if good and c in table.position]
        unliked = [table.position[c] for c, good in judged[i].items() if not good and c in table.position]
        moved[i] = ROCCHIO.move(first[i], table.matrix[liked], table.matrix[unliked])
    return moved


def feedback_rounds(
    first: np.ndarray, table: VectorTable, matched: Sequence[MatchedQuery], rounds: int, k: int,
    rank: Callable[[np.ndarray], list], score: Callable[[int, list, list[dict[str, bool]]], Any],
    start: list,
) -> list[Any]:  # fmt: skip
    """Run ``rounds`` rounds from the rankings ``start`` (round 0's); ``rank(vectors)`` ranks every query,
    ``score(round, retrieved, judged)`` makes the round's run. Returns the runs of rounds 1..N."""
    judged: list[dict[str, bool]] = [{} for _ in matched]
    retrieved, runs = start, []
    for number in range(1, rounds + 1):
        vectors = next_vectors(first, table, matched, [r.ranking for r in retrieved], judged, k)
        retrieved = rank(vectors)
        runs.append(score(number, retrieved, judged))
    return runs


def _words(query: Any, field: str) -> str:
    value = (query.meta.get("fields") or {}).get(field)
    return str(value).strip() if isinstance(value, (str, int, float)) and str(value).strip() else ""
