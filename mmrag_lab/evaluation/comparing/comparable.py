"""Whether runs can be compared at all: the same queries, the same candidates, the same protocol.

Every check compares each run with the first and says what differs. A run folder written before the corpus
identity was recorded cannot be checked for it; that is said too, as ``unknown``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mmrag_lab.evaluation.records.rundir import EvalRun

PROTOCOL_KEYS = ("benchmark", "exclude_reference", "search", "targets", "candidates")
SETTING_KEYS = ("missing", "ties", "query_template")


def check_runs(runs: Sequence[EvalRun], labels: Sequence[str]) -> dict[str, Any]:
    """Every comparability check of ``runs`` against the first, for ``compare.json``.

    Returns:
        ``comparable`` (no check failed), ``checks`` (name, state ``ok``/``MISMATCH``/``unknown``, what
        differs), ``problems`` (one sentence per mismatch) and ``untrained`` (labels of untrained runs).
    """
    first = runs[0]
    checks = []
    for label, run in zip(labels[1:], runs[1:], strict=True):
        for name, fn in CHECKS:
            state, detail = fn(first, run)
            checks.append({"run": label, "check": name, "state": state, "detail": detail})
    problems = [
        f"{c['run']} vs {labels[0]}: {c['check']}: {c['detail']}" for c in checks if c["state"] == "MISMATCH"
    ]
    return {
        "comparable": not problems,
        "checks": checks,
        "problems": problems,
        "untrained": [label for label, run in zip(labels, runs, strict=True) if run.untrained],
    }


def _query_ids(a: EvalRun, b: EvalRun) -> tuple[str, str]:
    ia, ib = _ids(a), _ids(b)
    if ia == ib:
        return "ok", f"{len(ia)} queries"
    return "MISMATCH", (
        f"{len(ia - ib)} of the first run's {len(ia)} queries are not in this run, {len(ib - ia)} of this "
        f"run's {len(ib)} are not in the first (e.g. {sorted(ia ^ ib)[:3]})"
    )


def _templates(a: EvalRun, b: EvalRun) -> tuple[str, str]:
    ta = {r["id"]: r.get("instruction") for r in a.rankings}
    tb = {r["id"]: r.get("instruction") for r in b.rankings}
    differ = sorted(q for q in ta.keys() & tb.keys() if ta[q] != tb[q])
    if not differ:
        return "ok", "same instruction text for every shared query"
    q = differ[0]
    return "MISMATCH", f"{len(differ)} queries have another instruction, e.g. {q}: {ta[q]!r} vs {tb[q]!r}"


def _targets(a: EvalRun, b: EvalRun) -> tuple[str, str]:
    ta = {r["id"]: sorted(r.get("target_names") or r["targets"]) for r in a.rankings}
    tb = {r["id"]: sorted(r.get("target_names") or r["targets"]) for r in b.rankings}
    differ = sorted(q for q in ta.keys() & tb.keys() if ta[q] != tb[q])
    if not differ:
        return "ok", "same targets for every shared query"
    return "MISMATCH", f"{len(differ)} queries have other targets, e.g. {differ[0]}"


def _corpus(a: EvalRun, b: EvalRun) -> tuple[str, str]:
    ca, cb = a.metrics.get("corpus"), b.metrics.get("corpus")
    if not ca or not cb:
        return "unknown", "a run folder predates the recorded corpus identity; re-run it to check"
    if ca == cb:
        return "ok", f"{ca['size']} candidates, same ids"
    if ca["size"] != cb["size"]:
        return "MISMATCH", f"{ca['size']} candidates vs {cb['size']}"
    return "MISMATCH", f"{ca['size']} candidates each, but other ids"


def _protocol(a: EvalRun, b: EvalRun) -> tuple[str, str]:
    sa, sb = a.metrics.get("settings") or {}, b.metrics.get("settings") or {}
    pa, pb = sa.get("protocol") or {}, sb.get("protocol") or {}
    differ = [f"{k}: {pa.get(k)!r} vs {pb.get(k)!r}" for k in PROTOCOL_KEYS if pa.get(k) != pb.get(k)]
    differ += [f"{k}: {sa.get(k)!r} vs {sb.get(k)!r}" for k in SETTING_KEYS if sa.get(k) != sb.get(k)]
    if not differ:
        return "ok", f"{pa.get('reference')}; {pa.get('search')}"
    return "MISMATCH", "; ".join(differ)


def _ids(run: EvalRun) -> set[str]:
    return {r["id"] for r in run.rankings}


CHECKS = (
    ("query ids", _query_ids),
    ("query template", _templates),
    ("targets", _targets),
    ("candidate set", _corpus),
    ("protocol", _protocol),
)
