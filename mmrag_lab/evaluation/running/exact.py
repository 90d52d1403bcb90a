"""Exact ranking for evaluation: every query scored against every stored vector, as the official code does.

The benchmarks' own evaluation code ranks exhaustively (a matrix product and a sort). An ANN index such as
HNSW or IVF misses some true neighbours, which would mix index error into the model's numbers, so
:func:`mmrag_lab.evaluate` reads all vectors once (:class:`VectorTable`) and scores in batches: with torch on
the GPU when there is one, with numpy otherwise. :func:`index_recall` measures how far an index's own
answers are from these exact ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

QUERY_BATCH = 256
TIE_MARGIN = 16  # candidates fetched beyond the depth, so that ties at the cut are broken by id later


@dataclass
class VectorTable:
    """All stored vectors of a collection, with their ids, paths and metadata.

    Attributes:
        ids: Collection ids, row ``i`` of ``matrix``.
        paths: Stored paths.
        metas: Stored metadata dicts.
        matrix: float32 ``(n, dim)``; L2-normalised under COSINE.
        metric: ``COSINE``, ``IP`` or ``L2``.
    """

    ids: list[str]
    paths: list[str]
    metas: list[dict]
    matrix: np.ndarray
    metric: str
    position: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.metric = self.metric.upper()
        if self.metric == "COSINE":
            self.matrix = _normalised(self.matrix)
        self.position = {cid: i for i, cid in enumerate(self.ids)}

    @classmethod
    def read(cls, store, metric: str) -> VectorTable:
        """Read every vector of ``store`` once (see ``Store.iter_vectors``)."""
        ids, paths, metas, blocks = [], [], [], []
        for rows, matrix in store.iter_vectors(("path", "meta")):
            ids += [str(r["id"]) for r in rows]
            paths += [str(r.get("path", "")) for r in rows]
            metas += [dict(r.get("meta") or {}) for r in rows]
            blocks.append(matrix)
        matrix = np.concatenate(blocks) if blocks else np.zeros((0, 0), np.float32)
        return cls(ids, paths, metas, matrix, metric)

    def scores(self, queries: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Similarity (higher is better; negated squared distance under L2) of each query to each row."""
        matrix = self.matrix if rows is None else self.matrix[rows]
        queries = self._prepare(queries)
        if self.metric == "L2":
            return -(np.sum(queries**2, 1)[:, None] - 2 * queries @ matrix.T + np.sum(matrix**2, 1)[None, :])
        return queries @ matrix.T

    def _prepare(self, queries: np.ndarray) -> np.ndarray:
        queries = np.asarray(queries, np.float32)
        return _normalised(queries) if self.metric == "COSINE" else queries

    def search(
        self,
        queries: np.ndarray,
        depth: int,
        pools: Sequence[np.ndarray | None] | None = None,
        device: str = "auto",
    ) -> list[list[dict]]:
        """The exact top ``depth`` of every query, as ``{"id", "score", "path"}`` hits like ``Store.search``.

        Args:
            queries: Query vectors ``(q, dim)``.
            depth: Hits per query (a few more are returned so that ties at the cut stay exact).
            pools: Per query, the table rows it may retrieve (None: all rows), e.g. a FashionIQ category.
            device: ``auto`` (CUDA when torch sees one), ``cpu``, ``cuda`` or ``cuda:N``.
        """
        pools = list(pools) if pools is not None else [None] * len(queries)
        out: list[list[dict]] = [[] for _ in range(len(queries))]
        groups: dict[int, list[int]] = {}
        for qi, pool in enumerate(pools):
            groups.setdefault(-1 if pool is None else id(pool), []).append(qi)
        scorer = _Scorer(self, device)
        for members in groups.values():
            pool = pools[members[0]]
            rows = np.arange(len(self.ids)) if pool is None else np.asarray(pool, np.int64)
            k = min(len(rows), depth + TIE_MARGIN)
            for start in range(0, len(members), QUERY_BATCH):
                chunk = members[start : start + QUERY_BATCH]
                top, values = scorer.topk(queries[chunk], rows, k)
                for qi, idx, vals in zip(chunk, top, values, strict=True):
                    out[qi] = [self._hit(int(rows[i]), float(v)) for i, v in zip(idx, vals, strict=True)]
        return out

    def _hit(self, row: int, score: float) -> dict:
        return {"id": self.ids[row], "score": score, "path": self.paths[row]}


class _Scorer:
    """Top-k by matrix product: torch on a GPU (the matrix moved there once), numpy on the CPU."""

    def __init__(self, table: VectorTable, device: str) -> None:
        self.table, self.torch, self.device = table, None, pick_device(device)
        if self.device != "cpu":
            import torch

            self.torch = torch
            self.matrix = torch.from_numpy(table.matrix).to(self.device)

    def topk(self, queries: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self.torch is None:
            scores = self.table.scores(queries, rows if len(rows) < len(self.table.ids) else None)
            part = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < scores.shape[1] else None
            idx = np.broadcast_to(np.arange(scores.shape[1]), scores.shape) if part is None else part
            vals = np.take_along_axis(scores, idx, 1)
            order = np.argsort(-vals, axis=1, kind="stable")
            return np.take_along_axis(idx, order, 1), np.take_along_axis(vals, order, 1)
        torch = self.torch
        q = torch.from_numpy(self.table._prepare(queries)).to(self.device)
        m = (
            self.matrix
            if len(rows) == len(self.table.ids)
            else self.matrix[torch.from_numpy(rows).to(self.device)]
        )
        scores = q @ m.T
        if self.table.metric == "L2":
            scores = -((q**2).sum(1)[:, None] - 2 * scores + (m**2).sum(1)[None, :])
        vals, idx = torch.topk(scores, k, dim=1)
        return idx.cpu().numpy(), vals.float().cpu().numpy()


def pick_device(device: str = "auto") -> str:
    """``cpu`` or a CUDA device torch can use; ``auto`` picks CUDA when available."""
    if device == "cpu":
        return "cpu"
    try:
        import torch
    except ImportError:
        return "cpu"
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def index_recall(ann: Sequence[Sequence[dict]], exact: Sequence[Sequence[dict]], ks: Sequence[int]) -> dict:
    """The index's recall@K against exact search: the share of the exact top K that the index returned."""
    out = {}
    for k in sorted(set(ks)):
        shares = []
        for a, e in zip(ann, exact, strict=True):
            truth = {h["id"] for h in e[:k]}
            if truth:
                shares.append(len(truth & {h["id"] for h in a[:k]}) / len(truth))
        out[f"recall@{k}"] = float(np.mean(shares)) if shares else None
    return out


def _normalised(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, np.float32)
    if matrix.size == 0:
        return matrix
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
