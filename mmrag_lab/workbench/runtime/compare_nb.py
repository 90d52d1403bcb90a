"""What the ``06_compare`` notebook runs: the runs to compare, from folders, encoders or rerankers.

- ``RUNS``: existing run folders (``mmrag eval --out``).
- ``ENCODERS``: for each name, the query set's images go into that encoder's own collection (ingesting is
  idempotent: stored images are skipped), then the query set is evaluated with the benchmark's protocol
  defaults, each run into its own folder.
- ``RERANKERS``: several chat models or endpoints rerank the retrieval of one encoder; their cost and
  latency join the table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mmrag_lab.errors import ConfigError
from mmrag_lab.evaluation import Comparison, EvalProtocol, EvalRun, evaluate, load_run
from mmrag_lab.evaluation.records.run_tables import Table
from mmrag_lab.workbench.runtime.session import NotebookSession
from mmrag_lab.workbench.runtime.weights_choice import pick_weights

DEFAULT_BASELINE = (
    "tiny"  # with no RUNS, ENCODERS or RERANKERS: the tiny preset against the configured encoder
)


def gather(
    session: NotebookSession,
    queries: Sequence,
    *,
    runs: Sequence[str] | None = None,
    encoders: Sequence[str] | None = None,
    rerankers: Sequence[str | Mapping[str, str]] | None = None,
    weights: str | Sequence[str | None] | None = None,
    kind: str | None = None,
    ks: Sequence[int] = (1, 5, 10, 50),
    top_n: int = 9,
    prices: Mapping[str, float] | None = None,
    out_root: str | Path | None = None,
) -> tuple[list[EvalRun], list[str]]:
    """The runs to compare and their labels: loaded (``runs``), or made (``encoders``, ``rerankers``).

    Raises:
        ConfigError: ``encoders`` names fewer than two encoders, or ``rerankers`` fewer than two models.

    With none of ``runs``, ``encoders`` and ``rerankers``, the tiny preset is compared with the configured
    encoder.
    """
    if runs:
        loaded = [load_run(r) for r in runs]
        names = [Path(r).name for r in runs]
        return loaded, names if len(set(names)) == len(names) else [str(r) for r in runs]
    if rerankers:
        return _reranker_runs(session, queries, rerankers, kind, ks, top_n, prices, out_root)
    encoders = list(encoders) if encoders is not None else [DEFAULT_BASELINE, session.config.encoder]
    if len(encoders) < 2:
        raise ConfigError(
            f"Nothing to compare: ENCODERS names {encoders}. Set RUNS to two or more run folders, ENCODERS to "
            'two or more encoder names (e.g. ["tiny", "visualized-bge-base"]), or RERANKERS to two or more '
            "chat models or endpoints."
        )
    return _encoder_runs(session, queries, encoders, weights, kind, ks, out_root)


def _encoder_runs(session, queries, encoders, weights, kind, ks, out_root) -> tuple[list[EvalRun], list[str]]:
    from mmrag_lab.encoders import load_encoder
    from mmrag_lab.ingestion.pipeline import ingest

    per = list(weights) if isinstance(weights, (list, tuple)) else [weights] * len(encoders)
    if len(per) != len(encoders):
        raise ConfigError(
            f"Give one WEIGHTS value per encoder ({len(encoders)}), or a single one; got {per}."
        )
    names = collection_names(session.config.collection, encoders)
    runs, labels = [], []
    for i, (name, w, collection) in enumerate(zip(encoders, per, names, strict=True)):
        cfg = session.config.with_overrides(encoder=name, collection=collection)
        cfg = cfg.with_overrides(weights=pick_weights(name, w).weights)
        encoder = load_encoder(config=cfg)
        report = ingest(
            session.images_dir, config=cfg, encoder=encoder, metadata=session.metadata, progress=False
        )
        session.record(f"ingest_{i + 1}", encoder=name, collection=collection, seen=report.seen,
                       ingested=report.ingested, skipped=report.seen - report.ingested)  # fmt: skip
        out = Path(out_root) / f"run-{i + 1}-{_slug(name)}" if out_root else None
        runs.append(
            evaluate(
                queries,
                kind=kind,
                config=cfg,
                encoder=encoder,
                protocol=EvalProtocol(ks=list(ks)),
                out_dir=out,
                progress=False,
            )
        )
        labels.append(name if encoders.count(name) == 1 else f"{name} ({collection})")
    return runs, labels


def _reranker_runs(session, queries, rerankers, kind, ks, top_n, prices, out_root):
    specs = [{"model": r} if isinstance(r, str) else dict(r) for r in rerankers]
    if len(specs) < 2:
        raise ConfigError(f"Give two or more RERANKERS to compare, got {len(specs)}.")
    runs, labels = [], []
    for i, spec in enumerate(specs):
        out = Path(out_root) / f"rerank-{i + 1}-{_slug(spec.get('model') or 'model')}" if out_root else None
        runs.append(
            evaluate(queries, kind=kind, config=session.config, protocol=EvalProtocol(ks=list(ks)), rerank=True, rerank_top_n=top_n,
                     prices=prices, rerank_options=spec, out_dir=out, progress=False)
        )  # fmt: skip
        labels.append(reranker_label(spec, specs))
    return runs, labels


def reranker_label(spec: Mapping[str, str], specs: Sequence[Mapping[str, str]]) -> str:
    """The model name, with the endpoint's host:port when two rerankers share the model."""
    model = spec.get("model") or "default model"
    if sum(1 for s in specs if s.get("model") == spec.get("model")) == 1:
        return model
    return f"{model} @ {urlsplit(spec.get('base_url') or 'https://api.openai.com').netloc.rpartition('@')[2]}"


def collection_names(base: str, encoders: Sequence[str]) -> list[str]:
    """``<base>_<encoder>`` per encoder (``_2``, ``_3`` for a repeated name): stable, so re-runs reuse them."""
    out, seen = [], {}
    for name in encoders:
        seen[name] = seen.get(name, 0) + 1
        out.append(f"{base}_{_slug(name)}" + (f"_{seen[name]}" if seen[name] > 1 else ""))
    return out


def _slug(name: str) -> str:
    return re.sub(r"\W+", "_", name).strip("_") or "run"


def out_dir(given: str | Path | None, run_dir: str | Path | None, name: str = "06_compare") -> Path | None:
    """Where the comparison folder goes: ``given``, else ``<run_dir>/06_compare``, else nowhere."""
    if given:
        return Path(given)
    return Path(run_dir) / name if run_dir else None


def overview(runs: Sequence[EvalRun], labels: Sequence[str]) -> Table:
    """One row per run: label, encoder, collection, untrained, reranker, queries scored, folder."""
    rows = tuple(
        (lab, r.encoder.get("name"), r.config.get("collection"), "UNTRAINED" if r.untrained else "",
         "yes" if r.metrics.get("reranked") else "", r.metrics["retrieval"]["n_evaluated"], str(r.out_dir or ""))
        for lab, r in zip(labels, runs, strict=True)
    )  # fmt: skip
    return Table(("run", "encoder", "collection", "untrained", "reranked", "queries", "folder"), rows)


def checks_table(result: Comparison) -> Table:
    """The comparability checks, one row per run and check."""
    rows = tuple((c["run"], c["check"], c["state"], c["detail"]) for c in result.checks["checks"])
    return Table(("run", "check", "state", "detail"), rows)


def key_figures(result: Comparison) -> dict[str, Any]:
    """What the notebook records: the table, the tests, the checks and the disagreements."""
    data = result.as_dict()
    keep = (
        "comparable",
        "problems",
        "untrained",
        "labels",
        "runs",
        "checks",
        "table",
        "tests",
        "disagreements",
    )
    return {**{k: data[k] for k in keep}, "out_dir": str(result.out_dir) if result.out_dir else None}
