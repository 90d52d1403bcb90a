"""The demo's closing summary, read from what each notebook recorded in the run folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

NO_ENDPOINT = (
    "skipped: no OPENAI_API_KEY or OPENAI_BASE_URL in the environment. Set one (any OpenAI-compatible "
    "server works) and run `make demo` again, or open notebooks/03_rerank.ipynb."
)


def _load(run_dir: Path, notebook: str) -> dict[str, Any] | None:
    path = run_dir / f"{notebook}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def step_lines(run_dir: Path, reranked: bool) -> list[str]:
    """One line (or two) per demo step."""
    return [
        "  1. ingest:  " + _ingest(_load(run_dir, "01_ingest")),
        "  2. search:  " + _search(_load(run_dir, "02_search")),
        "  3. rerank:  " + (_rerank(_load(run_dir, "03_rerank")) if reranked else NO_ENDPOINT),
        "  4. inspect: " + _inspect(_load(run_dir, "04_inspect")),
    ]


def _missing(record: dict | None, key: str) -> bool:
    return record is None or key not in record


def _ingest(record: dict | None) -> str:
    if _missing(record, "ingest"):
        return "no record (the notebook failed; see its executed copy)"
    r = record["ingest"]
    return (
        f"{r['seen']} images seen, {r['ingested']} ingested, {r['updated']} updated, {r['unchanged']} unchanged, "
        f"{len(r['failed'])} failed, in {r['duration_s']:.1f} s ({r['collection']} at {r['uri']})"
    )


def _search(record: dict | None) -> str:
    if _missing(record, "search"):
        return "no record (the notebook failed; see its executed copy)"
    r = record["search"]
    hits = r["hits"]
    query = Path(r["query"].get("image_path") or "?").name
    best = f"; best: {Path(hits[0]['path']).name} (score {hits[0]['score']:.3f})" if hits else ""
    return f"{len(hits)} hits for {query} + {r['query'].get('instruction')!r}{best}"


def _rerank(record: dict | None) -> str:
    if _missing(record, "rerank"):
        return "no record (the notebook failed; see its executed copy)"
    r = record["rerank"]
    if r["fallback_reason"]:
        return f"retrieval order kept: {r['fallback_reason']}"
    order = ", ".join(f"#{i + 1}" for i in r["order"])
    return f"{r['model']} reordered the hits to {order}\n     why: {r['explanation']}"


def _inspect(record: dict | None) -> str:
    if _missing(record, "summary"):
        return "no record (the notebook failed; see its executed copy)"
    s = record["summary"]
    pairs = (record.get("near_duplicates") or {}).get("pairs") or []
    closest = f"; closest pair: similarity {pairs[0]['score']:.4f}" if pairs else ""
    return f"{s['count']} vectors of dim {s['dim']} from {s['encoder']} ({s['metric']}){closest}"
