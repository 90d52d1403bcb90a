"""``mmrag_lab.evaluation.compare(...)``: several evaluation runs side by side, with paired tests.

Each run's metrics become a column (overall, per category, before and after reranking) and every other
run's difference from the first is given in points, with the paired test of :mod:`.paired_stats`. The
checks of :mod:`.comparable` come before any number: a mismatch heads the table and the JSON.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from mmrag_lab import argtypes
from mmrag_lab import checks as arguments
from mmrag_lab.errors import EvaluationError
from mmrag_lab.evaluation.comparing.comparable import check_runs
from mmrag_lab.evaluation.comparing.comparison import Comparison, rerank_rows
from mmrag_lab.evaluation.comparing.paired_stats import (
    MAX_HITS,
    MAX_RESAMPLES,
    MAX_SHOW,
    MIN_RESAMPLES,
    N_RESAMPLES,
    largest_changes,
    paired_test,
    per_query,
    rank_of,
    wins_ties_losses,
)
from mmrag_lab.evaluation.records.run_tables import metric_names
from mmrag_lab.evaluation.records.rundir import FILES as RUN_FILES
from mmrag_lab.evaluation.records.rundir import EvalRun, load_run


def compare(
    *runs: EvalRun | str | os.PathLike,
    labels: Sequence[str] | None = None,
    out_dir: str | os.PathLike | None = None,
    n_resamples: int = N_RESAMPLES,
    show: int = 4,
    hits: int = 3,
) -> Comparison:
    """Compare evaluation runs with the first: metrics, paired tests, checks and disagreements.

    Args:
        *runs: Two or more :class:`EvalRun` objects or run folders (``mmrag eval --out``).
        labels: A name per run; default the encoder names (made unique).
        out_dir: Write ``compare.json``, ``compare.md``, ``compare.csv`` and the PNGs here.
        n_resamples: Permutations and bootstrap resamples of every test.
        show: Queries shown in each disagreement figure.
        hits: Hits of each run shown per query there.

    Raises:
        EvaluationError: Fewer than two runs, a label count that does not match, or a run folder that is
            damaged or incomplete (the message names the file and the problem).
        ConfigError: ``n_resamples``, ``show`` or ``hits`` out of range, or an ``out_dir`` that cannot be
            written (checked before any run is read).
    """
    arguments.whole_number("n_resamples", n_resamples, low=MIN_RESAMPLES, high=MAX_RESAMPLES)
    arguments.whole_number("show", show, low=0, high=MAX_SHOW)
    arguments.whole_number("hits", hits, high=MAX_HITS)
    if out_dir:
        arguments.output_folder("out_dir", out_dir)
    if len(runs) < 2:
        raise EvaluationError(f"Compare needs at least two runs, got {len(runs)}; pass two run folders.")
    for i, run in enumerate(runs, 1):
        if not isinstance(run, EvalRun):
            argtypes.local_path(f"run folder {i} (RUN_DIR)", run)  # "" would be the current folder
    loaded = [r if isinstance(r, EvalRun) else _load(r) for r in runs]
    labels = list(labels) if labels else default_labels(loaded)
    if len(labels) != len(loaded) or len(set(labels)) != len(labels):
        raise EvaluationError(f"Give one distinct label per run: {len(loaded)} runs, labels {labels}.")
    checks = check_runs(loaded, labels)
    stages = ["retrieval"] + (["reranked"] if all(r.metrics.get("reranked") for r in loaded) else [])
    rows, tests = [], []
    for stage in stages:
        stage_rows, stage_tests = _stage(loaded, labels, stage, n_resamples)
        rows += stage_rows
        tests += stage_tests
    rows += rerank_rows(loaded)
    disagreements = _disagreements(loaded, labels, stages[-1], show)
    result = Comparison(
        labels, loaded, checks, rows, tests, disagreements, hits=hits, n_resamples=n_resamples
    )
    if out_dir:
        result.write(out_dir)
    return result


def default_labels(runs: Sequence[EvalRun]) -> list[str]:
    """The encoder name of each run, then its collection, then a number, until the labels are distinct."""
    names = [str(r.encoder.get("name") or "run") for r in runs]
    if len(set(names)) < len(names):
        names = [f"{n}/{r.config.get('collection', '')}" for n, r in zip(names, runs, strict=True)]
    if len(set(names)) < len(names):
        names = [f"{n}#{i + 1}" for i, n in enumerate(names)]
    return names


def _load(folder: str | os.PathLike) -> EvalRun:
    """A run folder read back; one holding none of a run's files is no run at all."""
    if not any((Path(folder) / name).is_file() for name in RUN_FILES):
        raise EvaluationError(
            f"{folder} is not an evaluation run folder (no rankings.jsonl); make one with mmrag eval --out."
        )
    return load_run(folder)


def _stage(runs: Sequence[EvalRun], labels: Sequence[str], stage: str, n_resamples: int) -> tuple[list, list]:
    values = [per_query(r.rankings, r.metrics["settings"], stage) for r in runs]
    summaries = [r.metrics[stage] for r in runs]
    names = [k for k in metric_names(summaries[0]) if all(k in s["overall"] for s in summaries)]
    category = {rec["id"]: rec.get("category") for rec in runs[0].rankings}
    scopes = [("all", None)] + [(c, c) for c in summaries[0].get("per_category", {})]
    rows, tests = [], []
    for scope, cat in scopes:
        shared = sorted(set.intersection(*(set(v) for v in values)))
        shared = [q for q in shared if cat is None or category.get(q) == cat]
        for metric in names:
            own = [_reported(s, cat, metric) for s in summaries]
            row = {"stage": stage, "scope": scope, "metric": metric, "values": own, "tests": []}
            for i in range(1, len(runs)):
                pairs = [(values[0][q].get(metric), values[i][q].get(metric)) for q in shared]
                pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
                test = paired_test([a for a, _ in pairs], [b for _, b in pairs], n_resamples=n_resamples)
                test = {
                    "stage": stage,
                    "scope": scope,
                    "metric": metric,
                    "run": labels[i],
                    "vs": labels[0],
                    **test,
                }
                row["tests"].append(test)
                tests.append(test)
            rows.append(row)
    return rows, tests


def _reported(summary: dict, category: str | None, metric: str) -> float | None:
    values = summary["overall"] if category is None else summary.get("per_category", {}).get(category, {})
    value = values.get(metric)
    return None if value is None else 100.0 * value


def _disagreements(runs: Sequence[EvalRun], labels: Sequence[str], stage: str, show: int) -> list[dict]:
    first = {rec["id"]: rec for rec in runs[0].rankings}
    depth = max(runs[0].metrics["settings"]["ks"] + runs[0].metrics["settings"]["map_ks"])
    out = []
    for label, run in zip(labels[1:], runs[1:], strict=True):
        other = {rec["id"]: rec for rec in run.rankings}
        shared = first.keys() & other.keys()
        ra = {q: rank_of(first[q], stage) for q in shared if first[q]["targets"]}
        rb = {q: rank_of(other[q], stage) for q in ra}
        ids = largest_changes(ra, rb, show, depth)
        out.append({
            "run": label, "vs": labels[0], "stage": stage, **wins_ties_losses(ra, rb),
            "largest_changes": [{"id": q, "first_rank": ra[q], "rank": rb[q]} for q in ids],
            "pairs": [(first[q], other[q]) for q in ids],
        })  # fmt: skip
    return out
