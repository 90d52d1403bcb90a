"""Synthetic CLIP-like vectors for the benchmarks: a clustered corpus and queries that look like real ones.

Kept free of Milvus imports, so that the GPU part of ``bench_eval.py`` runs where only numpy and torch are.
"""

from __future__ import annotations

import numpy as np

DIM = 768


def clustered(n: int, seed: int, clusters: int = 200, spread: float = 0.35) -> np.ndarray:
    """``n`` unit vectors around ``clusters`` random centres."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, DIM)).astype(np.float32)
    data = centres[rng.integers(0, clusters, n)] + spread * rng.standard_normal((n, DIM)).astype(np.float32)
    return data / np.linalg.norm(data, axis=1, keepdims=True)


def realistic_queries(data: np.ndarray, n: int, seed: int = 1, shift: float = 0.45) -> np.ndarray:
    """``n`` queries near stored vectors: a random stored vector plus noise of norm ``shift``, re-normalised."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((n, data.shape[1])).astype(np.float32)
    noise *= shift / np.linalg.norm(noise, axis=1, keepdims=True)
    queries = data[rng.integers(0, len(data), n)] + noise
    return queries / np.linalg.norm(queries, axis=1, keepdims=True)
