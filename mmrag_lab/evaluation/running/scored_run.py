"""From rankings to a scored run, for round 0 and for each simulated feedback round (see :mod:`.feedback_eval`).

:func:`~.evaluate_run.evaluate` ranks the queries once (:mod:`.retrieval_stage`); :class:`ScoredRun` turns
those rankings, or a feedback round's, into an :class:`EvalRun`, and :func:`run_rounds` writes each round as a
run folder ``round-N`` inside the run's own folder.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from mmrag_lab import checks
from mmrag_lab.config import Config
from mmrag_lab.errors import EvaluationError
from mmrag_lab.evaluation.records.rundir import EvalRun, corpus_identity, query_record, write_run
from mmrag_lab.evaluation.records.runparts import QueryCounts, RunConfig, RunEncoder, RunMetrics
from mmrag_lab.evaluation.records.submission import SUBMISSION_DEPTH
from mmrag_lab.evaluation.running.aggregate import query_metrics, summarize
from mmrag_lab.evaluation.running.feedback_eval import feedback_rounds, hybrid_hits, keyword_settings
from mmrag_lab.evaluation.running.ranking import pool_rows, rank_query, subset_scores
from mmrag_lab.evaluation.running.rerank_ab import rerank_stage
from mmrag_lab.retrieval.feedback import ROCCHIO
from mmrag_lab.store.vector_store import Store


class ScoredRun:
    """Rankings of the retrieval stage (round 0, or a feedback round) made into a scored run."""

    def __init__(self, stage, cfg: Config, settings: dict, summary_args: dict, queries, started: float,
                 n_loaded: int):  # fmt: skip
        self.stage, self.cfg, self.settings, self.summary_args = stage, cfg, settings, summary_args
        self.queries, self.started, self.n_loaded = queries, started, n_loaded

    def run(
        self, retrieved, out_dir, *, ann: bool = False, rerank: dict | None = None, extra=None
    ) -> EvalRun:
        stage, summary_args = self.stage, self.summary_args
        before = [m.ranked(r.ranking, r.subset) for m, r in zip(stage.matched, retrieved, strict=True)]
        records = [
            query_record(m, r, q, [stage.index.path_of(t) for t in m.target_ids])
            for m, r, q in zip(stage.matched, retrieved, before, strict=True)
        ]
        for rec, q in zip(records, before, strict=True):
            rec["metrics"] = (
                query_metrics(q, **summary_args) if q.scored_targets(summary_args["missing"]) else None
            )
        reranked, rerank_s = {}, None
        if rerank:
            t0 = time.perf_counter()
            reranked = rerank_stage(
                stage.matched, retrieved, records, stage.table, top_n=rerank["top_n"],
                concurrency=rerank["concurrency"], prices=rerank["prices"], summary_args=summary_args,
                config=self.cfg, **rerank["options"],
            )  # fmt: skip
            rerank_s = time.perf_counter() - t0
        timings = replace(stage.timings, rerank_s=rerank_s, total_s=time.perf_counter() - self.started)
        untrained = bool(stage.encoder.info.untrained)
        counts = QueryCounts(self.n_loaded, len(stage.matched), stage.failed, stage.match.as_dict())
        settings = {**self.settings, **(extra or {})}
        return EvalRun(
            out_dir=Path(out_dir) if out_dir else None,
            config=RunConfig(self.cfg.public_dict(), settings, source_of(self.queries), untrained),
            encoder=RunEncoder(stage.encoder.info, stage.metric),
            metrics=RunMetrics(
                untrained,
                summarize(before, **summary_args),
                settings,
                counts,
                timings,
                index_recall=stage.index_recall if ann else None,
                **reranked,
                extra={"corpus": corpus_identity(stage.table.ids)},
            ),  # fmt: skip
            rankings=records,
        )


def run_rounds(scored: ScoredRun, stage, cfg: Config, settings: dict, rounds: int, out_dir) -> list[dict]:
    """Feedback rounds 1..N, each written as its own run folder ``round-N`` inside ``out_dir``."""
    exclude, depth = settings["protocol"]["exclude_reference"], depth_of(settings)
    pools = pool_rows(stage.matched, stage.index, stage.table)
    k = settings["feedback"]["k"]

    def rank(vectors):
        if settings.get("keywords"):
            with Store.open(cfg) as store:
                hits = hybrid_hits(store, vectors, stage.matched, settings["keywords"], depth + exclude, pools,
                                   stage.table)  # fmt: skip
        else:
            hits = stage.table.search(vectors, depth + exclude, pools, device=cfg.device)
        subsets = subset_scores(stage.table, vectors, stage.matched)
        return [rank_query(m, h, s, depth=depth, exclude_reference=exclude, ties=settings["ties"])
                for m, h, s in zip(stage.matched, hits, subsets, strict=True)]  # fmt: skip

    def score(number, retrieved, judged):
        folder = Path(out_dir) / f"round-{number}" if out_dir else None
        liked = sum(sum(judged_one.values()) for judged_one in judged)
        extra = {"feedback": {**settings["feedback"], "round": number, "liked": liked,
                              "unliked": sum(map(len, judged)) - liked}}  # fmt: skip
        run = scored.run(retrieved, folder, extra=extra)
        if folder is not None:
            write_run(run)
        return {"round": number, "run": str(folder) if folder else None, **extra["feedback"],
                "retrieval": run.metrics["retrieval"]}  # fmt: skip

    return feedback_rounds(stage.vectors, stage.table, stage.matched, rounds, k, rank, score, stage.retrieved)


def depth_of(settings: dict) -> int:
    protocol = settings["protocol"]
    return max(settings["ks"] + settings["map_ks"] + ([SUBMISSION_DEPTH] if protocol["submission"] else []))


def extra_settings(keywords_from, fusion, rounds: int, k: int, loaded, rerank: bool) -> dict:
    """The settings ``--keywords-from`` and ``--feedback-rounds`` add to a run (recorded in it)."""
    checks.whole_number("feedback_rounds (--feedback-rounds)", rounds, low=0, high=100)
    checks.whole_number("feedback_k (--feedback-k)", k, high=1000)
    if rounds and rerank:
        raise EvaluationError(
            "--feedback-rounds and --rerank are separate runs; evaluate them one at a time."
        )
    out: dict[str, Any] = {}
    words = keyword_settings(keywords_from, fusion, loaded)
    if words:
        out["keywords"] = words
    if rounds:
        weights = f"alpha {ROCCHIO.alpha:g}, beta {ROCCHIO.beta:g}, gamma {ROCCHIO.gamma:g}"
        out["feedback"] = {"method": f"Rocchio ({weights})", "oracle": "labelled targets",
                           "k": k, "round": 0, "rounds": rounds}  # fmt: skip
    return out


def source_of(queries) -> str:
    """What the run records as its query source."""
    if isinstance(queries, (str, os.PathLike)):
        return str(queries)
    return f"<{len(queries)} queries given in memory>"
