"""Exact evaluation ranking against the index path: 1k queries over 100k stored 768-d vectors.

What ``mmrag eval`` does by default: read every stored vector once (``Store.iter_vectors``), then score all
queries against all of them in batches and keep the top 50 (:class:`mmrag_lab.evaluation.running.exact.VectorTable`),
with numpy on the CPU or torch on a GPU (``--device cuda``). Beside it, the ``--ann`` path: the same queries
searched through Milvus Lite's HNSW index in batches of 256, and that index's recall@10 against exact.

The vectors are clustered synthetic unit vectors and the queries look like real ones (top-10 cosine about
0.8), from :mod:`bench_query`.

usage: python benchmarks/bench_eval.py [--quick] [--device cpu|cuda] [--n N] [--queries Q] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from synthetic import DIM, clustered, realistic_queries  # noqa: E402


def _exact_module():
    """``mmrag_lab.evaluation.running.exact`` loaded from its file: it needs only numpy (and torch), while the
    package would import Milvus, which a GPU machine may not have."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "exact", HERE.parent / "mmrag_lab" / "evaluation" / "running" / "exact.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["exact"] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


exact_mod = _exact_module()
VectorTable, index_recall, pick_device = exact_mod.VectorTable, exact_mod.index_recall, exact_mod.pick_device

DEPTH = 50


def exact_rank(data: np.ndarray, queries: np.ndarray, device: str) -> tuple[list, float]:
    """Top ``DEPTH`` of every query by brute force; returns the hits and seconds (best of two runs)."""
    table = VectorTable(
        [str(i) for i in range(len(data))], [""] * len(data), [{}] * len(data), data, "COSINE"
    )
    table.search(queries[:8], DEPTH, device=device)  # warm-up (CUDA context, BLAS threads)
    best, hits = float("inf"), []
    for _ in range(2):
        started = time.perf_counter()
        hits = table.search(queries, DEPTH, device=device)
        best = min(best, time.perf_counter() - started)
    return hits, best


def measure(n: int, queries: int, device: str, with_index: bool) -> dict:
    data = clustered(n, seed=n)
    targets = realistic_queries(data, queries)
    device = pick_device(device)
    exact, exact_s = exact_rank(data, targets, device)
    out = {"n": n, "queries": queries, "device": device, "exact_s": exact_s,
           "top10_cosine": float(np.mean([h["score"] for row in exact for h in row[:10]]))}  # fmt: skip
    if not with_index:
        return out
    from bench_query import fill

    from mmrag_lab.encoders.base import EncoderInfo
    from mmrag_lab.evaluation.running.exact import VectorTable as StoreTable
    from mmrag_lab.evaluation.running.ranking import search_all

    with tempfile.TemporaryDirectory(prefix="mmrag-bench-eval-") as tmp:
        info = EncoderInfo("bench-synthetic", DIM, True, "untrained", f"synthetic-{n}")
        store, _, _ = fill(str(Path(tmp) / "eval.db"), info, data, ["/bench/x.jpg"])
        started = time.perf_counter()
        table = StoreTable.read(store, "COSINE")
        out["read_vectors_s"] = time.perf_counter() - started
        assert len(table.ids) == n
        search_all(store, targets[:8], DEPTH)  # warm-up
        started = time.perf_counter()
        ann = search_all(store, targets, DEPTH)
        out["index_s"] = time.perf_counter() - started
        ann = [[{"id": str(int(h["id"]))} for h in row] for row in ann]
        out["index_recall"] = index_recall(ann, exact, (10, 50))
        store.drop()
        store.close()
    return out


def run(quick: bool = False) -> dict:
    n, queries = (10_000, 200) if quick else (100_000, 1_000)
    result = measure(n, queries, "cpu", with_index=True)
    return {
        "title": "Evaluation ranking: exact brute force against the index (Milvus Lite HNSW)",
        "markdown": render(result),
        "results": result,
    }


def render(r: dict, gpu: dict | None = None) -> str:
    rows = [
        f"| exact, {'numpy' if r['device'] == 'cpu' else 'torch'} on {r['device']} (default) | {r['exact_s']:.2f} | "
        f"{1000 * r['exact_s'] / r['queries']:.2f} | 1.000 |",
    ]
    if gpu:
        rows.append(
            f"| exact, torch on {gpu['device']} ({gpu.get('gpu_name', 'GPU')}) | {gpu['exact_s']:.3f} | "
            f"{1000 * gpu['exact_s'] / gpu['queries']:.3f} | 1.000 |"
        )
    if "index_s" in r:
        rows.append(
            f"| `--ann`: Milvus Lite HNSW (ef 128), batches of 256 | {r['index_s']:.2f} | "
            f"{1000 * r['index_s'] / r['queries']:.2f} | {r['index_recall']['recall@10']:.3f} |"
        )
    lines = [
        f"{r['queries']:,} queries over {r['n']:,} clustered 768-d unit vectors, top {DEPTH} per query "
        f"(queries near stored vectors: mean top-10 cosine {r['top10_cosine']:.2f}). Exact = every query "
        "scored against every vector in batches of 256, as `mmrag eval` does by default; best of two runs.",
        "",
        "| ranking | seconds for all queries | ms per query | recall@10 against exact |",
        "|---|---|---|---|",
        *rows,
        "",
    ]
    if "read_vectors_s" in r:
        lines.append(
            f"Reading all {r['n']:,} vectors out of Milvus Lite once per run (`Store.iter_vectors`): "
            f"{r['read_vectors_s']:.1f} s. The index path's recall@50 is {r['index_recall']['recall@50']:.3f}."
        )
    if not gpu:
        lines.append("GPU row: not measured yet (`python benchmarks/bench_eval.py --device cuda --json "
                     "benchmarks/results/gpu_eval.json` on a GPU machine).")  # fmt: skip
    return "\n".join(lines)


def render_gpu(gpu: dict) -> dict:
    """The section with the GPU figures next to the saved CPU ones (``run.py`` calls this)."""
    cpu_file = HERE / "results" / "eval_exact.json"
    cpu = json.loads(cpu_file.read_text())["results"] if cpu_file.exists() else gpu
    return {
        "title": "Evaluation ranking on a GPU: exact brute force with torch",
        "markdown": render(cpu, gpu),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N for the exact ranking")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--no-index", action="store_true", help="skip the Milvus Lite index path")
    parser.add_argument("--json", metavar="OUT", help="write the result as JSON (e.g. results/gpu_eval.json)")
    args = parser.parse_args()
    n, queries = (10_000, 200) if args.quick else (args.n, args.queries)
    result = measure(n, queries, args.device, with_index=not args.no_index)
    if result["device"] != "cpu":
        import torch

        result["gpu_name"] = torch.cuda.get_device_name(torch.device(result["device"]))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    print(render(result))


if __name__ == "__main__":
    main()
