"""What a comparison produces: its table, its JSON, and its folder (``compare.json``, ``.md``, ``.csv``, PNGs)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from mmrag_lab.evaluation.comparing.disagreement import plot_disagreements
from mmrag_lab.evaluation.comparing.paired_stats import N_RESAMPLES
from mmrag_lab.evaluation.records.run_tables import Table
from mmrag_lab.evaluation.records.rundir import EvalRun
from mmrag_lab.evaluation.records.runfiles import write_json, write_text
from mmrag_lab.plots.figures import UNTRAINED_MARK

RERANK_ROWS = (
    ("latency p50 (s)", lambda s: s["latency_s"]["p50"]),
    ("latency p95 (s)", lambda s: s["latency_s"]["p95"]),
    ("tokens in", lambda s: s["usage"]["prompt_tokens"]),
    ("tokens out", lambda s: s["usage"]["completion_tokens"]),
    ("cost (USD)", lambda s: s.get("cost_usd")),
    ("fallbacks", lambda s: s["n_fallback"]),
)


@dataclass
class Comparison:
    """The outcome of :func:`mmrag_lab.evaluation.comparing.compare`.

    Attributes:
        labels: One name per run; the first is the baseline.
        runs: The runs compared.
        checks: The comparability checks (``comparable``, ``checks``, ``problems``, ``untrained``).
        rows: One per stage, scope and metric: each run's value (%) and its tests against the first.
        tests: Every paired test, flat (stage, scope, metric, run, n, difference, p_value, ci_low, ci_high).
        disagreements: Per run against the first: wins/ties/losses and the largest rank changes.
    """

    labels: list[str]
    runs: list[EvalRun] = field(repr=False)
    checks: dict
    rows: list[dict] = field(repr=False)
    tests: list[dict] = field(repr=False)
    disagreements: list[dict] = field(repr=False)
    hits: int = 3
    n_resamples: int = N_RESAMPLES
    out_dir: Path | None = None

    @property
    def comparable(self) -> bool:
        return bool(self.checks["comparable"])

    def table(self) -> Table:
        """Each run's metrics as a column, then each run's difference from the first (points), p and CI."""
        base = self.labels[0]
        shown = [f"{lab} [UNTRAINED]" if lab in self.checks["untrained"] else lab for lab in self.labels]
        columns = ["stage", "scope", "metric", *shown]
        for lab in self.labels[1:]:
            columns += [f"{lab} - {base}", f"p ({lab})", f"95% CI ({lab})"]
        body = []
        for row in self.rows:
            cells = [row["stage"], row["scope"], row["metric"], *row["values"]]
            for i, test in enumerate(row["tests"], start=1):
                a, b = row["values"][0], row["values"][i]
                delta = None if a is None or b is None else b - a
                cells += [delta, _p(test.get("p_value")), _ci(test)]
            body.append(tuple(cells))
        return Table(tuple(columns), tuple(body), tuple(self.notes()))

    def notes(self) -> list[str]:
        """What heads the table: mismatches first, then the untrained mark, then what the test is."""
        notes = [f"**NOT COMPARABLE**: {p}" for p in self.checks["problems"]]
        notes += [f"Not checked: {c['run']}: {c['check']}: {c['detail']}" for c in self.checks["checks"]
                  if c["state"] == "unknown"]  # fmt: skip
        if self.checks["untrained"]:
            notes.append(f"**{UNTRAINED_MARK}**: {', '.join(self.checks['untrained'])}")
        n = max((t["n"] for t in self.tests), default=0)
        notes.append(
            f"Values in %, differences in points. Paired over the queries both runs scored (up to {n}): "
            f"two-sided permutation test of the mean difference (scipy permutation_test, samples, "
            f"{self.n_resamples} resamples) and its 95 % CI (scipy bootstrap, paired, BCa)."
        )
        return notes

    def figure(self, index: int = 0) -> Figure:
        """The disagreement figure of run ``index + 1`` against the first."""
        d = self.disagreements[index]
        untrained = bool({d["run"], d["vs"]} & set(self.checks["untrained"]))
        return plot_disagreements(d["pairs"], (d["vs"], d["run"]), stage=d["stage"], hits=self.hits,
                                  untrained=untrained)  # fmt: skip

    def wins(self) -> Table:
        """Wins, ties and losses of each run against the first (best target rank per query)."""
        rows = tuple(
            (d["run"], d["vs"], d["stage"], d["wins"], d["ties"], d["losses"]) for d in self.disagreements
        )
        return Table(("run", "against", "stage", "wins", "ties", "losses"), rows)

    def as_dict(self) -> dict[str, Any]:
        """Everything in ``compare.json``."""
        table = self.table()
        return {
            "comparable": self.comparable,
            "problems": self.checks["problems"],
            "untrained": self.checks["untrained"],
            "labels": self.labels,
            "runs": [_identity(lab, run) for lab, run in zip(self.labels, self.runs, strict=True)],
            "checks": self.checks["checks"],
            "table": {
                "columns": list(table.columns),
                "rows": [list(r) for r in table.rows],
                "notes": list(table.notes),
            },  # fmt: skip
            "tests": self.tests,
            "disagreements": [{k: v for k, v in d.items() if k != "pairs"} for d in self.disagreements],
        }

    def write(self, out_dir: str | os.PathLike) -> Path:
        """Write the comparison folder and return its path."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        data = self.as_dict()
        for i, d in enumerate(data["disagreements"]):
            d["figure"] = f"disagree-{i + 1}.png"
            self.figure(i).savefig(out / d["figure"], dpi=110, bbox_inches="tight")
        write_json(out / "compare.json", data)
        write_text(out / "compare.md", self._repr_markdown_())
        write_text(out / "compare.csv", self.table().to_csv())
        self.out_dir = out
        return out

    def _repr_markdown_(self) -> str:
        return self.table().to_markdown() + "\n" + self.wins().to_markdown()


def rerank_rows(runs: Sequence[EvalRun]) -> list[dict]:
    """Latency, tokens, cost and fallbacks of each run's reranker, when every run reranked."""
    stats = [r.metrics.get("rerank") for r in runs]
    if not all(stats):
        return []
    return [{"stage": "reranker", "scope": "cost", "metric": name, "values": [get(s) for s in stats],
             "tests": [{} for _ in runs[1:]]} for name, get in RERANK_ROWS]  # fmt: skip


def _identity(label: str, run: EvalRun) -> dict:
    rerank = (run.metrics.get("settings") or {}).get("rerank")
    return {"label": label, "out_dir": str(run.out_dir) if run.out_dir else None, "encoder": run.encoder.get("name"),
            "fingerprint": run.encoder.get("fingerprint"), "collection": run.config.get("collection"),
            "untrained": run.untrained, "reranked": bool(rerank), "llm_model": run.config.get("llm_model")}  # fmt: skip


def _p(p: float | None) -> str | None:
    return None if p is None else f"{p:.4f}" if p >= 1e-4 else f"{p:.1e}"


def _ci(test: dict) -> str | None:
    if test.get("ci_low") is None:
        return None
    return f"[{test['ci_low']:+.2f}, {test['ci_high']:+.2f}]"
