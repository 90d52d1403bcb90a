"""Pictures of single evaluated queries: the query, its instruction, its target and the top hits."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from mmrag_lab.plots.figures import QUERY_BLUE, UP, short_name, show_image, titled

TARGET_GREEN = UP


def plot_cases(
    records: Sequence[dict], *, hits: int = 5, stage: str = "retrieval", untrained: bool = False
) -> Figure:
    """One row per query record (from ``rankings.jsonl``): query, first target, then the top hits.

    Hits that are targets get a green frame; each hit's title is its rank and score.

    Args:
        records: Query records, e.g. ``run.worst(3)``.
        hits: Hits shown per query.
        stage: ``retrieval`` or ``reranked`` (the reranked order, when the run reranked).
        untrained: Add the red untrained-weights mark to the title.
    """
    rows = max(1, len(records))
    fig = Figure(figsize=(2.2 * (hits + 2), 2.7 * rows + 0.8), layout="constrained")
    axes = np.atleast_2d(fig.subplots(rows, hits + 2, squeeze=False))
    for ax in axes.flat:
        ax.set_axis_off()
    for row, rec in zip(axes, records, strict=False):
        _query(row[0], rec)
        _target(row[1], rec)
        for i, (cid, path, score) in enumerate(_top(rec, stage, hits)):
            _hit(row[2 + i], cid, path, score, i + 1, cid in set(rec["targets"]))
    title = "Worst queries" if stage == "retrieval" else "Worst queries after reranking"
    return titled(fig, title, untrained)


def _top(rec: dict, stage: str, n: int) -> list[tuple[str, str, float | None]]:
    path_of = dict(zip(rec["ranking"], rec["paths"], strict=True))
    score_of = dict(zip(rec["ranking"], rec["scores"], strict=True))
    order = rec.get("reranked") if stage == "reranked" and rec.get("reranked") else rec["ranking"]
    return [(cid, path_of.get(cid, ""), score_of.get(cid)) for cid in order[:n]]


def _query(ax, rec: dict) -> None:
    ax.set_axis_on()
    show_image(ax, rec["image_path"], frame=QUERY_BLUE)
    ax.set_title(f"query {rec['id']}", color=QUERY_BLUE, fontweight="bold", fontsize=10)
    ax.set_xlabel(textwrap.fill(f'"{rec["instruction"]}"', 26), fontsize=8, color=QUERY_BLUE)


def _target(ax, rec: dict) -> None:
    ax.set_axis_on()
    paths = rec.get("target_paths") or []
    show_image(ax, paths[0] if paths else None, frame=TARGET_GREEN)
    more = f" (+{len(paths) - 1})" if len(paths) > 1 else ""
    rank = rec.get("best_target_rank")
    ax.set_title(f"target{more}", color=TARGET_GREEN, fontweight="bold", fontsize=10)
    ax.set_xlabel(f"best rank: {rank if rank is not None else 'not retrieved'}", fontsize=8)


def _hit(ax, cid: str, path: str, score: float | None, rank: int, is_target: bool) -> None:
    ax.set_axis_on()
    show_image(ax, path, frame=TARGET_GREEN if is_target else None)
    label = f"#{rank}  {score:.3f}" if score is not None else f"#{rank}"
    ax.set_title(label, fontsize=10, color=TARGET_GREEN if is_target else "black", fontweight="bold")
    ax.set_xlabel(short_name(path), fontsize=8)
