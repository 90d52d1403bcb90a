"""Relevance feedback: "more like this, less like this" moves the query vector (Rocchio, 1971).

The refined query is Rocchio's, from the SMART system (J. J. Rocchio, "Relevance feedback in information
retrieval", 1971), on the stored vectors of the judged rows:

    q' = alpha * q + beta * mean(liked) - gamma * mean(unliked),   then L2-normalised

with ``alpha = 1``, ``beta = 0.75`` and ``gamma = 0.15``, the weights common since Salton and Buckley (1990)
found that positive feedback should weigh more than negative. Without a query (``--like A`` alone) ``q`` is
zero: the query is the mean of the liked rows, "more like this". Judgements add up over rounds; each round
starts again from the first query ``q``, so the order in which rows were judged does not matter.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmrag_lab.errors import QueryError
from mmrag_lab.store.vector_store import Store

ROW_ID = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Rocchio:
    """Rocchio's weights: ``alpha`` on the query, ``beta`` on the liked rows' mean, ``gamma`` against the
    unliked rows' mean."""

    alpha: float = 1.0
    beta: float = 0.75
    gamma: float = 0.15

    def move(self, query: np.ndarray | None, liked: np.ndarray, unliked: np.ndarray) -> np.ndarray:
        """The refined query, L2-normalised, of shape ``(dim,)``.

        Args:
            query: The query vector, or None for feedback alone.
            liked: Liked rows' vectors, ``(n, dim)`` (n may be 0).
            unliked: Unliked rows' vectors, ``(m, dim)`` (m may be 0).

        Raises:
            QueryError: Nothing to move from: no query and no liked row.
        """
        if query is None and not len(liked):
            raise QueryError(
                "Unliked rows alone say what is not wanted, not what is: like at least one row, or give a "
                "query (an image, an instruction, a text or keywords)."
            )
        dim = (liked if len(liked) else unliked).shape[1] if query is None else np.asarray(query).size
        moved = np.zeros(dim, dtype=np.float64)
        if query is not None:
            moved += self.alpha * np.asarray(query, dtype=np.float64).reshape(-1)
        if len(liked):
            moved += self.beta * np.asarray(liked, dtype=np.float64).mean(axis=0)
        if len(unliked):
            moved -= self.gamma * np.asarray(unliked, dtype=np.float64).mean(axis=0)
        norm = float(np.linalg.norm(moved))
        if norm == 0.0:
            raise QueryError("The liked and unliked rows cancel out the query; judge fewer or other rows.")
        return (moved / norm).astype(np.float32)


ROCCHIO = Rocchio()


def judged_rows(store: Store, refs: Sequence[Any], option: str) -> list[dict[str, Any]]:
    """The stored rows (``id``, ``path``, ``vector``) that ``refs`` name: row ids, stored paths or hits.

    Ids are looked up in one query, paths in another, whatever the number of judgements.

    Raises:
        QueryError: A reference names no stored row (the message says what one looks like).
    """
    texts = [_text(ref) for ref in refs]
    ids = [text for text in texts if ROW_ID.match(text)]
    by_id = {str(row["id"]): row for row in store.get(ids, output_fields=["path", "vector"])} if ids else {}
    paths = {text: _spellings(text) for text in texts if text not in by_id}
    wanted = {spelling for spellings in paths.values() for spelling in spellings}
    stored = store.rows_at_paths(wanted, fields=("path", "vector")) if wanted else []
    found: dict[str, dict[str, Any]] = {}
    for text in texts:
        rows = [by_id[text]] if text in by_id else [row for row in stored if row["path"] in paths[text]]
        if not rows:
            raise QueryError(
                f"{option} {text!r} is not in collection {store.collection!r}: give a stored path (as "
                "search prints it) or a row id."
            )
        found.update((str(row["id"]), row) for row in rows)
    return list(found.values())


def vectors(rows: Sequence[dict[str, Any]], dim: int) -> np.ndarray:
    """The rows' vectors as one float32 matrix ``(len(rows), dim)``."""
    return np.asarray([row["vector"] for row in rows], dtype=np.float32).reshape(-1, dim)


def _text(ref: Any) -> str:
    ref = getattr(ref, "id", ref)  # a Hit
    if not isinstance(ref, (str, os.PathLike)):
        raise QueryError(f"A judged row is a stored path, a row id or a hit; got {ref!r}.")
    return os.fspath(ref)


def _spellings(text: str) -> set[str]:
    return {text, os.path.abspath(os.path.expanduser(text)), os.path.realpath(os.path.expanduser(text))}
