"""``mmrag_lab.evaluate(...)``: score a query set against a collection, optionally with the LLM reranker."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mmrag_lab import checks
from mmrag_lab.config import Config
from mmrag_lab.deprecation import folded
from mmrag_lab.encoders.base import Encoder
from mmrag_lab.errors import EvaluationError
from mmrag_lab.evaluation.inputs.benchmarks import guess_kind, load_queries
from mmrag_lab.evaluation.inputs.protocol import EvalProtocol, describe
from mmrag_lab.evaluation.inputs.querysets import Query
from mmrag_lab.evaluation.inputs.templates import apply_template, default_template
from mmrag_lab.evaluation.records.rundir import EvalRun, write_run
from mmrag_lab.evaluation.records.submission import short_rankings, write_submission
from mmrag_lab.evaluation.running.aggregate import (
    MISSING_POLICIES,
)
from mmrag_lab.evaluation.running.costs import check_prices
from mmrag_lab.evaluation.running.eval_args import check_call
from mmrag_lab.evaluation.running.metrics import TIE_POLICIES
from mmrag_lab.evaluation.running.retrieval_stage import retrieval_stage
from mmrag_lab.evaluation.running.scored_run import ScoredRun, extra_settings, run_rounds
from mmrag_lab.store.target import target_config


@folded("protocol", EvalProtocol)
def evaluate(
    queries: str | os.PathLike | Sequence[Query],
    *,
    kind: str | None = None,
    loader_options: Mapping[str, Any] | None = None,
    config: Config | None = None,
    encoder: Encoder | None = None,
    store: Any = None,
    protocol: EvalProtocol | None = None,
    rerank: bool = False,
    rerank_top_n: int = 9,
    concurrency: int = 4,
    prices: Mapping[str, float] | None = None,
    submission: bool = False,
    out_dir: str | os.PathLike | None = None,
    rerank_options: Mapping[str, Any] | None = None,
    progress: bool = True,
    collection: str | None = None,
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
        store: An open :class:`~mmrag_lab.store.vector_store.Store`; default one opened (and closed) from ``config``.
        protocol: How the run is scored: the K values, the reference rule, exact or ANN ranking, ties,
            missing targets, the query template (:class:`~mmrag_lab.evaluation.inputs.protocol.EvalProtocol`;
            default: each benchmark's official protocol). Its fields, given as keywords of their own (``ks=``,
            ``ann=``...), still work until the next release, with a ``DeprecationWarning``.
        rerank: Also rerank the top ``rerank_top_n`` of every query and score the reranked order.
        rerank_top_n: Candidates shown to the reranker.
        concurrency: Reranker requests in flight at most.
        prices: ``{"input_per_1m": USD, "output_per_1m": USD}`` to estimate the reranker's cost.
        submission: Also write the test-split submission file(s) of CIRR or CIRCO into ``out_dir``.
        out_dir: Write the run folder here (config, encoder, metrics, rankings, tables, plots).
        rerank_options: Extra arguments for :func:`mmrag_lab.reranking.reranker.rerank` (model, base_url, cache_dir...).
        progress: Show progress bars (on by default, as in ``ingest``; a set of one batch shows none).
        collection: Collection name; default ``config.collection`` (a ``store`` given must be open on it).

    Raises:
        EvaluationError: The query set cannot be read or no query can be evaluated.
        CollectionMismatchError: The encoder is not the one that made the collection.
    """
    started = time.perf_counter()
    check_call(queries, locals())
    p = protocol or EvalProtocol()
    ks, map_ks, subset_ks, missing, ties = p.ks, p.map_ks, p.subset_ks, p.missing, p.ties
    cfg = target_config(config, collection, store)
    check_prices(prices)
    if submission and not out_dir:
        raise EvaluationError("A submission needs a run folder to write into; pass out_dir (--out).")
    if out_dir:
        checks.output_folder("out_dir (--out)", out_dir)  # before any work, so no result is lost to it
    from_file = isinstance(queries, (str, os.PathLike))
    kind = (kind or guess_kind(Path(queries))) if from_file else kind
    options = {**(loader_options or {}), **_loader_flags(kind, p.cirr_soft, submission)}
    loaded = load_queries(queries, kind, **options) if from_file else list(queries)
    kind = None if kind == "folders" else kind  # a label-only query set follows no benchmark's protocol
    if not loaded:
        raise EvaluationError("The query set holds no queries; give at least one query.")
    ks = [ks] if isinstance(ks, int) else list(ks)
    rules = describe(
        kind, p.exclude_reference, loaded, ann=p.ann, cirr_soft=p.cirr_soft, submission=submission
    )
    settings = _settings(ks, map_ks, subset_ks, rules, missing, ties, rerank, rerank_top_n)
    template = p.query_template or default_template(encoder.name if encoder is not None else cfg.encoder)
    loaded, settings["query_template"] = apply_template(loaded, template)
    settings.update(
        extra_settings(p.keywords_from, p.fusion, p.feedback_rounds, p.feedback_k, loaded, rerank)
    )
    stage = retrieval_stage(loaded, cfg, encoder, store, settings, progress)
    summary_args = {"ks": ks, "map_ks": map_ks, "subset_ks": subset_ks, "missing": missing}
    scored = ScoredRun(stage, cfg, settings, summary_args, queries, started, len(loaded))
    rerank_args = {"top_n": rerank_top_n, "concurrency": concurrency, "prices": prices,
                   "options": rerank_options or {}} if rerank else None  # fmt: skip
    run = scored.run(stage.retrieved, out_dir, ann=p.ann, rerank=rerank_args)
    if out_dir:
        write_run(run, first=_submission(kind, run, stage.index.path_of, loaded) if submission else None)
    if p.feedback_rounds:
        run.metrics.extra["feedback_rounds"] = run_rounds(
            scored, stage, cfg, settings, p.feedback_rounds, out_dir
        )
        if out_dir:
            write_run(run)
    return run


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
