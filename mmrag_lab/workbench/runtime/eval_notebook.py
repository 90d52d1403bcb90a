"""Small helpers that keep the ``05_evaluate`` notebook's cells to one call each."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from IPython.display import Markdown

from mmrag_lab.evaluation.inputs.benchmarks import guess_kind, load_queries
from mmrag_lab.evaluation.inputs.folders import folder_queries
from mmrag_lab.evaluation.inputs.protocol import EvalProtocol
from mmrag_lab.evaluation.inputs.querysets import Query
from mmrag_lab.evaluation.records.run_tables import Table
from mmrag_lab.evaluation.records.rundir import EvalRun


def query_set(
    queries: str | os.PathLike | None, kind: str | None, images_dir: str | os.PathLike
) -> list[Query]:
    """The notebook's query set: the given file, or one query per class subfolder of ``images_dir``."""
    if queries:
        return load_queries(queries, kind)
    return folder_queries(images_dir)


def kind_of(queries: str | os.PathLike | None, kind: str | None) -> str | None:
    """The benchmark a query file is (so that its official protocol applies); None for the smoke-test set."""
    return (kind or guess_kind(Path(queries))) if queries else None


def preview(queries: Sequence[Query], n: int = 5) -> Table:
    """The first ``n`` queries as a table (targets counted, not listed)."""
    rows = tuple(
        (q.query_id, Path(q.image).name, q.instruction, len(q.targets), q.category or "") for q in queries[:n]
    )
    return Table(("id", "image", "instruction", "targets", "category"), rows)


def run_folder(out_dir: str | os.PathLike | None, run_dir: str | os.PathLike | None) -> Path | None:
    """Where the evaluation run goes: ``out_dir``, else ``<run_dir>/05_evaluate-run``, else nowhere."""
    if out_dir:
        return Path(out_dir)
    return Path(run_dir) / "05_evaluate-run" if run_dir else None


def prices(price_in: float | None, price_out: float | None) -> dict[str, float] | None:
    """Prices per 1M tokens for the cost estimate, or None when either is not given."""
    if price_in is None or price_out is None:
        return None
    return {"input_per_1m": float(price_in), "output_per_1m": float(price_out)}


def key_figures(run: EvalRun, worst: int = 3) -> dict[str, Any]:
    """What the notebook records: overall metrics before and after reranking, reranker costs, worst ids."""
    m = run.metrics
    rerank = m.rerank or {}
    return {
        "out_dir": str(run.out_dir) if run.out_dir else None,
        "encoder": run.encoder.info.name,
        "fingerprint": run.encoder.info.fingerprint,
        "untrained": run.untrained,
        "n_queries": m.queries.n_loaded,
        "n_evaluated": m.retrieval["n_evaluated"],
        "retrieval": m.retrieval["overall"],
        "category_average": m.retrieval["category_average"],
        "reranked": (m.reranked or {}).get("overall"),
        "rank_moves": m.rank_moves,
        "rerank": {k: rerank.get(k) for k in ("n_fallback", "n_cached", "usage", "cost_usd")}
        if rerank
        else None,
        "worst": [rec["id"] for rec in run.worst(worst)],
    }


def rerank_summary(run: EvalRun) -> Markdown:
    """What the reranker changed and cost, or how to switch it on."""
    stats = run.metrics.rerank
    if not stats:
        return Markdown("Reranking is off. Set `RERANK = True` (and an endpoint, see 03_rerank) to compare.")
    cost = (
        "not estimated (set PRICE_IN and PRICE_OUT)"
        if stats["cost_usd"] is None
        else f"${stats['cost_usd']:.4f}"
    )
    moves = run.metrics.rank_moves
    return Markdown(
        f"Reranked the top {stats['top_n']} of {stats['n_queries']} queries: **{stats['n_fallback']} fallback(s)**"
        f", {stats['n_cached']} from the cache. Tokens: {stats['usage']['prompt_tokens']} in, "
        f"{stats['usage']['completion_tokens']} out; estimated cost {cost}. Median latency "
        f"{stats['latency_s']['p50']:.2f} s. Best target rank: {moves['improved']} improved, "
        f"{moves['worsened']} worsened, {moves['unchanged']} unchanged."
    )


def feedback_folder(out_dir: str | os.PathLike | None, run_dir: str | os.PathLike | None) -> Path | None:
    """Where the simulated feedback run goes: beside the evaluation run, ``...-feedback``, else nowhere."""
    folder = run_folder(out_dir, run_dir)
    return folder.with_name(folder.name + "-feedback") if folder else None


def feedback_protocol(ks: Any, rounds: int, k: int | None) -> EvalProtocol:
    """The feedback run's protocol: ``FEEDBACK_K`` None keeps :class:`EvalProtocol`'s own default."""
    return EvalProtocol(ks=ks, feedback_rounds=rounds, **({} if k is None else {"feedback_k": k}))


def feedback_table(run: EvalRun | None) -> Any:
    """Round 0 (no feedback) and each simulated feedback round: the overall metrics, in percent."""
    if run is None:
        return Markdown("Feedback rounds are off. Set `FEEDBACK_ROUNDS = 2` to simulate them.")
    import pandas as pd

    rows = [{"round": 0, "liked": 0, "unliked": 0, **run.metrics.retrieval["overall"]}]
    rows += [{"round": r["round"], "liked": r["liked"], "unliked": r["unliked"], **r["retrieval"]["overall"]}
             for r in run.metrics["feedback_rounds"]]  # fmt: skip
    table = pd.DataFrame(rows).set_index("round")
    metric_columns = [c for c in table.columns if "@" in c]
    table[metric_columns] = (table[metric_columns] * 100).round(2)
    return table
