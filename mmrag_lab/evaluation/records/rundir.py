"""An evaluation run and its folder: everything needed to read, compare or re-check it later.

Layout::

    config.json        public settings (no secrets), the evaluation settings, the query source
    encoder.json       encoder name, weights, fingerprint, untrained flag
    metrics.json       retrieval (and reranked) metrics, reranker stats, what could not be evaluated
    rankings.jsonl     one line per query: ranked ids, scores, target ranks, the query's own metric values
                       (``metrics``; ``reranked_metrics`` and the reranked order when reranking)
    results.csv / results.md   the results table (with the protocol, and any index recall, as notes)
    *_submission*.json test-split submission files (``--submission``; CIRR and CIRCO)

With an untrained encoder every file carries the mark: an ``untrained``/``warning`` key in the JSON files
and on every ``rankings.jsonl`` line, a column in ``results.csv``, a note in ``results.md``, the title of
every plot, and ``.UNTRAINED`` in submission file names (whose content the servers fix).
    recall_at_k.png    Recall@K curve(s)
    rerank.png         before/after reranking (when reranking)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from mmrag_lab.evaluation.inputs.match import MatchedQuery
from mmrag_lab.evaluation.records.cases import plot_cases
from mmrag_lab.evaluation.records.run_tables import Table, plot_recall_curve, plot_rerank, results_table
from mmrag_lab.evaluation.records.runfiles import (
    check_complete,
    check_manifest,
    damaged,
    read_json,
    read_jsonl,
    staged,
    write_json,
    write_text,
)
from mmrag_lab.evaluation.records.runparts import RunConfig, RunEncoder, RunMetrics
from mmrag_lab.evaluation.running.aggregate import RankedQuery, best_target_rank
from mmrag_lab.evaluation.running.metrics import target_ranks
from mmrag_lab.evaluation.running.ranking import Retrieved
from mmrag_lab.plots.figures import UNTRAINED_MARK

FILES = ("config.json", "encoder.json", "metrics.json", "rankings.jsonl", "results.csv", "results.md")


@dataclass
class EvalRun:
    """The outcome of :func:`mmrag_lab.evaluation`.

    ``config``, ``encoder`` and ``metrics`` are typed (:mod:`.runparts`) and read as their JSON documents
    too: ``run.metrics.retrieval`` is ``run.metrics["retrieval"]``.

    Attributes:
        out_dir: The run folder, or None when nothing was written.
        config: Public settings of the run (``config.json``).
        encoder: The encoder's identity (``encoder.json``).
        metrics: Everything measured (``metrics.json``).
        rankings: One record per evaluated query (``rankings.jsonl``).
    """

    out_dir: Path | None
    config: RunConfig
    encoder: RunEncoder
    metrics: RunMetrics
    rankings: list[dict[str, Any]] = field(repr=False)

    def table(self) -> Table:
        """The results table (percentages)."""
        return results_table(self.metrics)

    def worst(self, n: int = 5, stage: str = "retrieval") -> list[dict]:
        """The ``n`` queries whose best target ranks lowest (not retrieved at all comes last of all)."""
        key = "reranked_best_target_rank" if stage == "reranked" else "best_target_rank"
        scored = [r for r in self.rankings if r["targets"]]

        def badness(rec: dict) -> tuple:
            rank = rec.get(key)
            return (rank is None, rank or 0, rec["id"])

        return sorted(scored, key=badness, reverse=True)[:n]

    @property
    def untrained(self) -> bool:
        """True when the encoder ran on untrained weights (the numbers mean nothing)."""
        return bool(self.encoder.info.untrained)

    def plot_recall(self) -> Figure:
        """Recall@K curve(s)."""
        return plot_recall_curve(self.metrics, untrained=self.untrained)

    def plot_rerank(self) -> Figure | None:
        """Before/after reranking (None when the run did not rerank)."""
        if not self.metrics.reranked:
            return None
        return plot_rerank(self.metrics, self.metrics.rank_moves, untrained=self.untrained)

    def plot_worst(self, n: int = 3, hits: int = 5, stage: str = "retrieval") -> Figure:
        """The ``n`` worst queries as a grid: query, instruction, target, top hits."""
        return plot_cases(self.worst(n, stage), hits=hits, stage=stage, untrained=self.untrained)

    def _repr_markdown_(self) -> str:
        return self.table().to_markdown()


def query_record(m: MatchedQuery, r: Retrieved, q: RankedQuery, target_paths: list[str]) -> dict[str, Any]:
    """The ``rankings.jsonl`` record of one query after retrieval."""
    return {
        "id": m.query.query_id,
        "category": m.query.category,
        "image": m.query.image,
        "image_path": m.image_path,
        "instruction": m.query.instruction,
        "reference_id": m.reference_id,
        "targets": list(m.target_ids),
        "target_names": list(m.query.targets),
        "target_paths": target_paths,
        "missing_targets": list(m.missing_targets),
        "ranking": list(r.ranking),
        "scores": list(r.scores),
        "paths": [r.paths.get(cid, "") for cid in r.ranking],
        "subset": None if r.subset is None else list(r.subset),
        "target_ranks": target_ranks(r.ranking, m.target_ids),
        "best_target_rank": best_target_rank(q),
    }


def corpus_identity(ids) -> dict[str, Any]:
    """The candidate set of a run, for ``metrics.json``: how many ids, and a SHA-256 of the sorted ids."""
    digest = hashlib.sha256("\n".join(sorted(map(str, ids))).encode("utf-8")).hexdigest()
    return {"size": len(ids), "ids_sha256": digest}


def write_run(run: EvalRun, first: Callable[[Path], None] | None = None) -> Path:
    """Write the run folder whole or not at all (:func:`.runfiles.staged`) and return its path.

    ``first(folder)`` writes extra files (submissions) into the folder before ``metrics.json`` is written.
    """
    out = Path(run.out_dir)
    with staged(out) as folder:
        if first is not None:
            first(folder)
        write_json(folder / "config.json", _marked(run.config.as_dict(), run.untrained))
        write_json(folder / "encoder.json", _marked(run.encoder.as_dict(), run.untrained))
        write_json(folder / "metrics.json", _marked(run.metrics.as_dict(), run.untrained))
        mark = {"untrained": True} if run.untrained else {}
        lines = [json.dumps({**rec, **mark}, ensure_ascii=False) for rec in run.rankings]
        write_text(folder / "rankings.jsonl", "".join(line + "\n" for line in lines))
        table = run.table()
        write_text(folder / "results.csv", table.to_csv())
        write_text(folder / "results.md", table.to_markdown())
        plot_recall_curve(run.metrics, folder / "recall_at_k.png", untrained=run.untrained)
        if run.metrics.reranked:
            plot_rerank(run.metrics, run.metrics.rank_moves, folder / "rerank.png", untrained=run.untrained)
    return out


def load_run(folder: str | Path) -> EvalRun:
    """Read a run folder back; a damaged or incomplete one is refused with the file and the problem named.

    Raises:
        EvaluationError: A file is missing, empty, cut short, not JSON, lacks a key, or differs from what
            the run wrote (its manifest); or the folder was left half-written.
    """
    folder = Path(folder)
    check_complete(folder, READ)
    parts = []
    for name, part in (
        ("config.json", RunConfig),
        ("encoder.json", RunEncoder),
        ("metrics.json", RunMetrics),
    ):
        try:
            parts.append(part.from_dict(read_json(folder, name)))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise damaged(folder / name, _what_is_wrong(exc)) from None
    rankings = read_jsonl(folder, "rankings.jsonl")
    _check_rankings(folder / "rankings.jsonl", rankings, parts[2])
    check_manifest(folder, READ)  # last: a parse error above says more than "changed"
    return EvalRun(folder, parts[0], parts[1], parts[2], rankings)


READ = ("config.json", "encoder.json", "metrics.json", "rankings.jsonl")
RECORD_KEYS = {"id": str, "targets": list, "ranking": list, "paths": list}


def _check_rankings(path: Path, rankings: list[dict], metrics: RunMetrics) -> None:
    """What comparing reads of every record and of the metrics is there, with its type."""
    for key in ("retrieval", "settings"):
        if not isinstance(metrics.as_dict().get(key), dict):
            raise damaged(path.parent / "metrics.json", f"'{key}' is missing or not an object")
    seen: set[str] = set()
    for number, rec in enumerate(rankings, start=1):
        for key, kind in RECORD_KEYS.items():
            if not isinstance(rec.get(key), kind):
                raise damaged(path, f"line {number} has no {key!r} {kind.__name__}")
        if len(rec["paths"]) != len(rec["ranking"]):
            raise damaged(path, f"line {number} has {len(rec['paths'])} paths for {len(rec['ranking'])} hits")
        if rec["id"] in seen:
            raise damaged(path, f"line {number} repeats the query id {rec['id']!r}")
        seen.add(rec["id"])


def _what_is_wrong(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"the key {exc.args[0]!r} is missing"
    return f"a value has the wrong form ({type(exc).__name__}: {exc})"


def _marked(data: dict, untrained: bool) -> dict:
    """``data`` with the untrained mark first, so that no reader of the file can miss it."""
    if not untrained:
        return data
    return {"untrained": True, "warning": f"{UNTRAINED_MARK}; these numbers mean nothing", **data}
