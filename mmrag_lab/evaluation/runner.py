"""``mmrag_lab.evaluate(...)``: score a query set against a collection, optionally with the LLM reranker."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from mmrag_lab import checks
from mmrag_lab.config import Config
from mmrag_lab.encoders.base import Encoder
from mmrag_lab.errors import EvaluationError
from mmrag_lab.evaluation.aggregate import MAP_KS, MISSING_POLICIES, SUBSET_KS, query_metrics, summarize
from mmrag_lab.evaluation.benchmarks import guess_kind, load_queries
from mmrag_lab.evaluation.costs import check_prices
from mmrag_lab.evaluation.eval_args import check_call
from mmrag_lab.evaluation.feedback_eval import (
    DEFAULT_FEEDBACK_K,
    feedback_rounds,
    hybrid_hits,
    keyword_settings,
)
from mmrag_lab.evaluation.metrics import TIE_POLICIES
from mmrag_lab.evaluation.protocol import describe
from mmrag_lab.evaluation.querysets import Query
from mmrag_lab.evaluation.ranking import pool_rows, rank_query, subset_scores
from mmrag_lab.evaluation.rerank_ab import rerank_stage
from mmrag_lab.evaluation.retrieval_stage import retrieval_stage
from mmrag_lab.evaluation.rundir import EvalRun, corpus_identity, query_record, write_run
from mmrag_lab.evaluation.runparts import QueryCounts, RunConfig, RunEncoder, RunMetrics
from mmrag_lab.evaluation.submission import SUBMISSION_DEPTH, short_rankings, write_submission
from mmrag_lab.evaluation.templates import apply_template, default_template
from mmrag_lab.store.collection import Store
from mmrag_lab.store.target import target_config


def evaluate(
    queries: str | os.PathLike | Sequence[Query],
    *,
    kind: str | None = None,
    loader_options: Mapping[str, Any] | None = None,
    config: Config | None = None,
    encoder: Encoder | None = None,
    store: Any = None,
    ks: int | Sequence[int] = (1, 5, 10, 50),
    map_ks: Sequence[int] = MAP_KS,
    subset_ks: Sequence[int] = SUBSET_KS,
    rerank: bool = False,
    rerank_top_n: int = 9,
    concurrency: int = 4,
    prices: Mapping[str, float] | None = None,
    exclude_reference: bool | None = None,
    ann: bool = False,
    cirr_soft: bool = False,
    submission: bool = False,
    missing: str = "skip",
    ties: str = "stable",
    out_dir: str | os.PathLike | None = None,
    rerank_options: Mapping[str, Any] | None = None,
    progress: bool = True,
    query_template: str | None = None,
    collection: str | None = None,
    keywords_from: str | None = None,
    fusion: str | None = None,
    feedback_rounds: int = 0,
    feedback_k: int = DEFAULT_FEEDBACK_K,
) -> EvalRun:
    """Evaluate retrieval (and reranking) quality of a collection on a query set.

    Args:
        queries: A query file (JSON Lines, CIRR ``cap.rc2.*.json``, a FashionIQ captions folder, CIRCO
            ``val.json`` with ``kind="circo"``) or :class:`Query` objects.
        kind: ``jsonl``, ``cirr``, ``fashioniq`` or ``circo``; default: guessed from the file name.
        loader_options: Extra arguments of the loader (e.g. FashionIQ ``split``, CIRCO ``id_to_name``).
        config: Settings (URI, collection, encoder, LLM); default ``Config.load()``.
        encoder: A loaded encoder; default ``load_encoder(config=config)``. It must be the one that made
            the collection (same fingerprint).
        store: An open :class:`~mmrag_lab.store.collection.Store`; default one opened (and closed) from ``config``.
        ks: K values of Recall@K (one int means just that K).
        map_ks: K values of mAP@K (CIRCO).
        subset_ks: K values of Recall_subset@K (CIRR; computed for queries that have a subset).
        rerank: Also rerank the top ``rerank_top_n`` of every query and score the reranked order.
        rerank_top_n: Candidates shown to the reranker.
        concurrency: Reranker requests in flight at most.
        prices: ``{"input_per_1m": USD, "output_per_1m": USD}`` to estimate the reranker's cost.
        exclude_reference: Leave the query's own image out of its candidates; None follows the benchmark's
            official code (CIRR removes it, CIRCO and FashionIQ keep it; see :mod:`.protocol`).
        ann: Rank through the collection's index instead of exactly, and report the index's recall@K
            against exact search for the same queries (``metrics["index_recall"]``).
        cirr_soft: CIRR: score ``target_soft`` the CIRPLANT way instead of ``target_hard`` alone.
        submission: Also write the test-split submission file(s) of CIRR or CIRCO into ``out_dir``.
        missing: ``skip`` or ``miss``: how targets absent from the collection count (see ``summarize``).
        ties: ``stable``, ``optimistic`` or ``pessimistic`` ordering of equal scores.
        out_dir: Write the run folder here (config, encoder, metrics, rankings, tables, plots).
        rerank_options: Extra arguments for :func:`mmrag_lab.reranking.reranker.rerank` (model, base_url, cache_dir...).
        progress: Show progress bars (on by default, as in ``ingest``; a set of one batch shows none).
        query_template: How an annotation becomes the query text, a name in
            :data:`~mmrag_lab.evaluation.templates.QUERY_TEMPLATES`; default: the encoder's authors' choice.
        collection: Collection name; default ``config.collection`` (a ``store`` given must be open on it).
        keywords_from: A query-set field whose text is each query's keywords, fused with its vector by
            Milvus's ``hybrid_search`` (the collection needs a text field; see :mod:`.feedback_eval`).
        fusion: How keywords are fused: ``rrf`` (default), ``rrf:C`` or ``weighted:W``.
        feedback_rounds: Simulate this many rounds of relevance feedback by an oracle user (the labelled
            targets in the top ``feedback_k`` liked, the others unliked); each round is a run folder
            ``round-N`` inside ``out_dir`` that :func:`compare` pairs with this one. Optimistic by design:
            see :mod:`.feedback_eval`.
        feedback_k: Hits judged per round (default 10).

    Raises:
        EvaluationError: The query set cannot be read or no query can be evaluated.
        CollectionMismatchError: The encoder is not the one that made the collection.
    """
    started = time.perf_counter()
    check_call(queries, locals())
    cfg = target_config(config, collection, store)
    check_prices(prices)
    if submission and not out_dir:
        raise EvaluationError("A submission needs a run folder to write into; pass out_dir (--out).")
    if out_dir:
        checks.output_folder("out_dir (--out)", out_dir)  # before any work, so no result is lost to it
    from_file = isinstance(queries, (str, os.PathLike))
    kind = (kind or guess_kind(Path(queries))) if from_file else kind
    options = {**(loader_options or {}), **_loader_flags(kind, cirr_soft, submission)}
    loaded = load_queries(queries, kind, **options) if from_file else list(queries)
    kind = None if kind == "folders" else kind  # a label-only query set follows no benchmark's protocol
    if not loaded:
        raise EvaluationError("The query set holds no queries; give at least one query.")
    ks = [ks] if isinstance(ks, int) else list(ks)
    protocol = describe(kind, exclude_reference, loaded, ann=ann, cirr_soft=cirr_soft, submission=submission)
    settings = _settings(ks, map_ks, subset_ks, protocol, missing, ties, rerank, rerank_top_n)
    template = query_template or default_template(encoder.name if encoder is not None else cfg.encoder)
    loaded, settings["query_template"] = apply_template(loaded, template)
    settings.update(_extras(keywords_from, fusion, feedback_rounds, feedback_k, loaded, rerank, out_dir))
    stage = retrieval_stage(loaded, cfg, encoder, store, settings, progress)
    summary_args = {"ks": ks, "map_ks": map_ks, "subset_ks": subset_ks, "missing": missing}
    scored = _Scored(stage, cfg, settings, summary_args, queries, started, len(loaded))
    rerank_args = {"top_n": rerank_top_n, "concurrency": concurrency, "prices": prices,
                   "options": rerank_options or {}} if rerank else None  # fmt: skip
    run = scored.run(stage.retrieved, out_dir, ann=ann, rerank=rerank_args)
    if out_dir:
        write_run(run, first=_submission(kind, run, stage.index.path_of, loaded) if submission else None)
    if feedback_rounds:
        run.metrics.extra["feedback_rounds"] = _rounds(scored, stage, cfg, settings, feedback_rounds, out_dir)
        if out_dir:
            write_run(run)
    return run


class _Scored:
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
            config=RunConfig(self.cfg.public_dict(), settings, _source(self.queries), untrained),
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


def _rounds(scored: _Scored, stage, cfg: Config, settings: dict, rounds: int, out_dir) -> list[dict]:
    """Feedback rounds 1..N, each written as its own run folder ``round-N`` inside ``out_dir``."""
    exclude, depth = settings["protocol"]["exclude_reference"], _depth(settings)
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


def _depth(settings: dict) -> int:
    protocol = settings["protocol"]
    return max(settings["ks"] + settings["map_ks"] + ([SUBMISSION_DEPTH] if protocol["submission"] else []))


def _extras(keywords_from, fusion, rounds: int, k: int, loaded, rerank: bool, out_dir) -> dict:
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
        out["feedback"] = {"method": "Rocchio (alpha 1, beta 0.75, gamma 0.15)", "oracle": "labelled targets",
                           "k": k, "round": 0, "rounds": rounds}  # fmt: skip
    return out


def _submission(kind: str | None, run: EvalRun, path_of, loaded: Sequence[Query]):
    """What writes the submission file(s) into the run folder, and their names into the metrics."""
    coco_ids = next((q.meta.get("coco_ids") for q in loaded if q.meta.get("coco_ids")), None)

    def write(folder: Path) -> None:
        run.metrics.submission_files = write_submission(kind, run, path_of, coco_ids, folder=folder)
        run.metrics.submission_warning = short_rankings(run.rankings)

    return write


def _loader_flags(kind: str | None, cirr_soft: bool, submission: bool) -> dict:
    flags: dict[str, Any] = {"soft": True} if cirr_soft and kind == "cirr" else {}
    if submission and kind in ("cirr", "circo"):
        flags["unlabelled"] = True
    return flags


def _settings(ks, map_ks, subset_ks, protocol, missing, ties, rerank, top_n) -> dict:
    for name, values in (("ks", ks), ("map_ks", map_ks), ("subset_ks", subset_ks)):
        if any(int(k) != k or k < 1 for k in values) or (name == "ks" and not values):
            raise EvaluationError(f"{name} must be positive integers (ks at least one), got {list(values)}.")
    if missing not in MISSING_POLICIES:
        raise EvaluationError(f"Unknown missing-target policy {missing!r}; choose one of {MISSING_POLICIES}.")
    if ties not in TIE_POLICIES:
        raise EvaluationError(f"Unknown tie policy {ties!r}; choose one of {TIE_POLICIES}.")
    return {
        "ks": list(ks),
        "map_ks": list(map_ks),
        "subset_ks": list(subset_ks),
        "exclude_reference": protocol["exclude_reference"],
        "protocol": protocol,
        "missing": missing,
        "ties": ties,
        "rerank": rerank,
        "rerank_top_n": top_n if rerank else None,
    }


def _source(queries) -> str:
    if isinstance(queries, (str, os.PathLike)):
        return str(queries)
    return f"<{len(queries)} queries given in memory>"
