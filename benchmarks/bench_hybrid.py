"""Keywords and feedback at 100k rows on Milvus Lite: a hybrid search and a refine round against a plain
dense search, measured in the same run (ratios).

100k random unit vectors of 768 dimensions, each row titled with six words drawn from a 5,000-word
vocabulary, go into a collection with a text field (``text_fields=("title",)``: the analysed ``text`` and
its BM25 sparse field), written through ``Store.insert`` and sealed by ``flush_and_load()``. Then, query by
query and interleaved (so that drift on a shared machine touches every kind alike), k=10:

* dense: the query vector alone (:func:`mmrag_lab.retrieval.fusion.find_rows`, one search RPC);
* BM25: two keywords alone;
* hybrid: the vector and two keywords fused by Milvus's ``hybrid_search`` (RRF), plus the two requests
  sent alone so that each hit says which request found it, as ``search(keywords=...)`` does; and the
  fused request alone;
* refine: ``SearchResults.refine(like=[1], unlike=[2, 3])`` after a "more like this" search: the judged
  rows' vectors looked up, Rocchio, and a search that leaves the judged rows out.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

from mmrag_lab.config import Config  # noqa: E402
from mmrag_lab.encoders.base import EncoderInfo  # noqa: E402
from mmrag_lab.retrieval.fusion import Fusion, find_rows  # noqa: E402
from mmrag_lab.retrieval.query import search  # noqa: E402
from mmrag_lab.store.vector_store import Store  # noqa: E402

DIM = 768
K = 10
WORDS = 5_000
INSERT_BATCH = 5_000
LABELS = {
    "dense": "dense search (the query vector alone)",
    "bm25": "BM25 alone (two keywords)",
    "hybrid": "hybrid search, as `search(keywords=...)` runs it (fused + each request's ranks)",
    "fused": "`hybrid_search` alone (RRF; no per-request ranks, as `eval --keywords-from` runs it)",
    "refine": "refine round (like 1, unlike 2 more; Rocchio, judged rows left out)",
}


def vocabulary(n: int) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    rng = np.random.default_rng(7)
    return ["".join(rng.choice(list(letters), size=7)) for _ in range(n)]


def rows_for(vectors: np.ndarray, start: int, titles: list[str]) -> list[dict]:
    return [
        {"id": f"{start + i:064x}", "vector": v, "path": f"/bench/{start + i}.jpg", "root": "bench",
         "rel_path": f"{start + i}.jpg", "content_hash": f"{start + i:064x}", "width": 400, "height": 533,
         "file_size": 30_000, "meta": {"title": titles[i]}}
        for i, v in enumerate(vectors)
    ]  # fmt: skip


def build(store: Store, n: int) -> float:
    rng = np.random.default_rng(0)
    words = vocabulary(WORDS)
    start = time.perf_counter()
    for begin in range(0, n, INSERT_BATCH):
        size = min(INSERT_BATCH, n - begin)
        vectors = rng.standard_normal((size, DIM), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        titles = [" ".join(rng.choice(words, size=6)) for _ in range(size)]
        store.insert(rows_for(vectors, begin, titles))
    store.flush_and_load()
    return time.perf_counter() - start


def searches(store: Store, vector: np.ndarray, words: str, first) -> dict:
    """One query's searches of each kind, as calls to time."""
    fusion = Fusion()
    return {
        "dense": lambda: find_rows(store, vector, None, K, None, fusion, None),
        "bm25": lambda: find_rows(store, None, words, K, None, fusion, None),
        "hybrid": lambda: find_rows(store, vector, words, K, None, fusion, None),
        "fused": lambda: store.hybrid_search(vector, words, K, None, ("rrf", 60), provenance=False),
        "refine": lambda: first.refine(like=[1], unlike=[2, 3]),
    }


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(n: int, n_queries: int, workdir: str) -> dict:
    info = EncoderInfo("bench-random", DIM, True, "random", "random")
    config = Config.load(env={}, milvus_uri=str(Path(workdir) / "hybrid.db"), collection="hybrid")
    with Store.open(config) as store:
        store.ensure_collection(info, text_fields=("title",))
        build_s = build(store, n)
        rng = np.random.default_rng(1)
        words = vocabulary(WORDS)
        queries = rng.standard_normal((n_queries, DIM), dtype=np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        keywords = [" ".join(rng.choice(words, size=2)) for _ in range(n_queries)]
        times: dict[str, list[float]] = {name: [] for name in LABELS}
        for i, (vector, words_i) in enumerate(zip(queries, keywords, strict=True)):
            liked = f"{int(rng.integers(n)):064x}"
            first = search(like=[liked], k=K, config=config, store=store)
            kinds = searches(store, vector, words_i, first)
            order = list(kinds) if i % 2 == 0 else list(reversed(kinds))
            for name in order:
                elapsed = timed(kinds[name])
                if i >= 3:  # the first queries warm the server up
                    times[name].append(elapsed)
    p50 = {name: float(np.percentile(values, 50)) for name, values in times.items()}
    return {
        "rows": n,
        "dim": DIM,
        "queries": len(times["dense"]),
        "build_s": build_s,
        "p50_ms": {name: value * 1000 for name, value in p50.items()},
        "ratio_to_dense": {name: p50[name] / p50["dense"] for name in p50},
    }


def run(quick: bool = False) -> dict:
    """Measure at 100k rows (10k in quick mode); returns the section for BENCHMARKS.md."""
    n, n_queries = (10_000, 30) if quick else (100_000, 100)
    with tempfile.TemporaryDirectory(prefix="mmrag_hybrid_") as workdir:
        r = measure(n, n_queries, workdir)
    labels = LABELS
    lines = [
        f"{n:,} random unit vectors x {DIM} in Milvus Lite with a text field (six random words per row, BM25 "
        f"function), {r['queries']} queries, k={K}, each kind timed on the same query in turn.",
        "",
        "| search | p50 | ratio to dense |",
        "|---|---|---|",
        *[
            f"| {labels[name]} | {r['p50_ms'][name]:.1f} ms | {r['ratio_to_dense'][name]:.2f}x |"
            for name in labels
        ],
        "",
        "A hybrid search is Milvus's `hybrid_search` plus the dense and BM25 requests sent alone, which tell "
        "each hit's rank and score per request. A refine round looks up each judged row's stored vector, "
        "moves the query and searches once with the judged rows filtered out.",
    ]
    return {
        "title": f"Keywords and feedback at {n // 1000}k rows: hybrid search and refine vs dense",
        "markdown": "\n".join(lines),
        "results": r,
    }


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv)["markdown"])
