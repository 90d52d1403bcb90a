"""Tables and plots of evaluation runs: results tables, side-by-side comparison, recall curves."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from mmrag_lab.plots.figures import UNTRAINED_MARK, titled
from mmrag_lab.terminal import printable


@dataclass(frozen=True)
class Table:
    """A small table that renders as Markdown in notebooks and writes CSV.

    ``notes`` (e.g. the untrained-weights warning) are printed above the Markdown table.
    """

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    notes: tuple[str, ...] = ()

    def to_markdown(self) -> str:
        """GitHub-flavoured Markdown; floats with 2 decimals."""
        lines = [f"{note}\n" for note in self.notes]
        lines += ["| " + " | ".join(self.columns) + " |", "|" + "---|" * len(self.columns)]
        lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in self.rows]
        return "\n".join(lines) + "\n"

    def to_csv(self) -> str:
        """Comma-separated values with a header row; floats unrounded."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(self.columns)
        writer.writerows(self.rows)
        return buf.getvalue()

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __str__(self) -> str:
        return self.to_markdown()


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return "" if value is None else printable(value)  # a category or label from a file: one row, no escapes


def metric_names(summary: dict) -> list[str]:
    """The metric keys of a summary, in a stable reading order (recall, subset, mAP; K ascending)."""
    keys = set(summary.get("overall", {}))
    for row in summary.get("per_category", {}).values():
        keys |= set(row)
    families = ("recall@", "recall_any@", "recall_subset@", "map@")
    return sorted(
        keys, key=lambda k: (next(i for i, f in enumerate(families) if k.startswith(f)), int(k.split("@")[1]))
    )


def results_table(metrics: dict) -> Table:
    """One row per stage (retrieval, reranked) and scope (all queries, each category, category average).

    Values are percentages, as papers print them. An untrained encoder adds a warning note and an
    ``untrained`` column (so the CSV carries the mark too); a rerank stage where every query fell back is
    labelled as such, since its numbers are the retrieval's.
    """
    stages = [(name, metrics[name]) for name in ("retrieval", "reranked") if metrics.get(name)]
    names = metric_names(stages[0][1]) if stages else []
    untrained = bool(metrics.get("untrained"))
    rows = []
    for stage, summary in stages:
        scopes = [("all", summary["overall"], summary["n_evaluated"])]
        counts = summary.get("category_counts", {})
        scopes += [(c, m, counts.get(c)) for c, m in summary.get("per_category", {}).items()]
        if summary.get("category_average"):
            scopes.append(("category average", summary["category_average"], None))
        label = _rerank_label(metrics.get("rerank")) if stage == "reranked" else stage
        for scope, values, n in scopes:
            row = (label, scope, n, *[_pct(values.get(k)) for k in names])
            rows.append((*row, "UNTRAINED") if untrained else row)
    columns = ("stage", "scope", "queries", *names, *(("untrained",) if untrained else ()))
    return Table(columns, tuple(rows), tuple(_notes(metrics)))


def _rerank_label(stats: dict | None) -> str:
    if not stats or not stats.get("n_fallback"):
        return "reranked"
    n, fell = stats["n_queries"], stats["n_fallback"]
    if fell >= n:
        return f"reranked: NOTHING reranked (all {n} fell back to retrieval order)"
    return f"reranked ({fell} of {n} fell back to retrieval order)"


def _notes(metrics: dict) -> list[str]:
    notes = []
    if metrics.get("untrained"):
        notes.append(
            f"**{UNTRAINED_MARK}** (the encoder ran on untrained weights; these numbers mean nothing)"
        )
    protocol = (metrics.get("settings") or {}).get("protocol")
    if protocol:
        notes.append(
            f"Protocol: {protocol['reference']}; search {protocol['search']}; targets {protocol['targets']}."
        )
    if metrics.get("index_recall"):
        shown = ", ".join(f"{k} {100 * v:.1f}" for k, v in metrics["index_recall"].items() if v is not None)
        notes.append(f"Index recall against exact search (same queries, %): {shown}.")
    return notes


def _pct(value: float | None) -> float | None:
    return None if value is None else 100.0 * value


def load_metrics(run: Any) -> dict:
    """The metrics of a run: an :class:`EvalRun`, a run folder, or a ``metrics.json`` path."""
    if hasattr(run, "metrics"):
        return run.metrics
    path = Path(run)
    return json.loads((path / "metrics.json" if path.is_dir() else path).read_text(encoding="utf-8"))


def compare_runs(run_a: Any, run_b: Any, *, labels: Sequence[str] = ("A", "B")) -> Table:
    """Side-by-side metrics of two runs (overall, final stage of each), with B minus A in points.

    Args:
        run_a: An :class:`EvalRun`, a run folder or a ``metrics.json`` path.
        run_b: The same for the other run.
        labels: Column labels of the two runs.
    """
    a, b = (_final(load_metrics(r)) for r in (run_a, run_b))
    names = [k for k in metric_names(a) if k in b["overall"]]
    rows = [("queries", a["n_evaluated"], b["n_evaluated"], b["n_evaluated"] - a["n_evaluated"])]
    for k in names:
        va, vb = _pct(a["overall"][k]), _pct(b["overall"][k])
        rows.append((k, va, vb, vb - va))
    return Table(("metric", labels[0], labels[1], f"{labels[1]} - {labels[0]}"), tuple(rows))


def _final(metrics: dict) -> dict:
    return metrics.get("reranked") or metrics["retrieval"]


def plot_recall_curve(metrics: dict, path: str | Path | None = None, *, untrained: bool = False) -> Figure:
    """Recall@K against K for retrieval (and after reranking when present); returns the figure."""
    # A bare Figure (no pyplot) needs no GUI backend and is shown once in notebooks.
    fig = Figure(figsize=(5, 3.8), layout="constrained")
    ax = fig.subplots()
    ax.set_xscale("log")
    for stage, style in (("retrieval", "o-"), ("reranked", "s--")):
        summary = metrics.get(stage)
        if not summary:
            continue
        ks = sorted(int(k.split("@")[1]) for k in summary["overall"] if k.startswith("recall@"))
        ax.plot(ks, [100 * summary["overall"][f"recall@{k}"] for k in ks], style, label=stage)
        ax.set_xticks(ks, [str(k) for k in ks])
    ax.set(xlabel="K", ylabel="Recall@K (%)", ylim=(0, 100))
    ax.minorticks_off()
    ax.grid(True, alpha=0.3)
    ax.legend()
    titled(fig, "Recall@K", untrained)
    return _save(fig, path)


def plot_rerank(
    metrics: dict, moves: dict[str, int], path: str | Path | None = None, *, untrained: bool = False
) -> Figure:
    """Before/after bars of every metric, and how many targets moved up, down or stayed."""
    before, after = metrics["retrieval"]["overall"], metrics["reranked"]["overall"]
    names = metric_names(metrics["retrieval"])
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1]})
    xs = range(len(names))
    ax1.bar([x - 0.2 for x in xs], [100 * before[k] for k in names], width=0.4, label="retrieval")
    ax1.bar([x + 0.2 for x in xs], [100 * after[k] for k in names], width=0.4, label="reranked")
    ax1.set_xticks(list(xs), names, rotation=45, ha="right")
    ax1.set(ylabel="%", ylim=(0, 100), title="Metrics")
    ax1.legend()
    ax2.bar(list(moves), list(moves.values()), color=["tab:green", "tab:red", "tab:gray"][: len(moves)])
    ax2.set_xticks(range(len(moves)), list(moves), rotation=30, ha="right")
    ax2.set(title="Best target rank", ylabel="queries")
    titled(fig, "Before and after reranking", untrained)
    return _save(fig, path)


def _save(fig: Figure, path: str | Path | None) -> Figure:
    if path is not None:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig
