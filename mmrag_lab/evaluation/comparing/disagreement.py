"""The disagreement figure of a comparison: the queries whose target moved most between two runs.

One row per query: the query (blue) with its instruction, its first target (green), then the top hits of
each run side by side; hits that are targets are framed green. Sized for a notebook column (FIG_WIDTH).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from mmrag_lab.plots.figures import QUERY_BLUE, UP, show_image, titled
from mmrag_lab.plots.layout import FIG_WIDTH, TEXT_PT, short_name


def plot_disagreements(
    pairs: Sequence[tuple[dict, dict]],
    labels: tuple[str, str],
    *,
    stage: str = "retrieval",
    hits: int = 3,
    untrained: bool = False,
) -> Figure:
    """One row per ``(record of A, record of B)`` pair of the same query (``rankings.jsonl`` records).

    Args:
        pairs: The two runs' records of each query shown, biggest rank change first.
        labels: The two runs' names, shown over their hits.
        stage: ``retrieval`` or ``reranked``: which order the hits are taken from.
        hits: Hits shown per run.
        untrained: Add the red untrained-weights mark to the title.
    """
    rows, cols = max(1, len(pairs)), 2 + 2 * hits
    side = FIG_WIDTH / cols
    fig = Figure(figsize=(FIG_WIDTH, (side + 0.9) * rows + 0.7), layout="constrained")
    axes = np.atleast_2d(fig.subplots(rows, cols, squeeze=False))
    for ax in axes.flat:
        ax.set_axis_off()
    for row, (rec_a, rec_b) in zip(axes, pairs, strict=False):
        _query(row[0], rec_a)
        _target(row[1], rec_a, rec_b, labels, stage)
        for r, (label, rec) in enumerate(zip(labels, (rec_a, rec_b), strict=True)):
            for i, (cid, path) in enumerate(_top(rec, stage, hits)):
                _hit(row[2 + r * hits + i], f"{label} #{i + 1}", path, cid in set(rec["targets"]))
    return titled(fig, f"Where {labels[1]} and {labels[0]} disagree most (best target rank)", untrained)


def _top(rec: dict, stage: str, n: int) -> list[tuple[str, str]]:
    path_of = dict(zip(rec["ranking"], rec["paths"], strict=True))
    order = rec.get("reranked") if stage == "reranked" and rec.get("reranked") else rec["ranking"]
    return [(cid, path_of.get(cid, "")) for cid in order[:n]]


def _rank(rec: dict, stage: str) -> str:
    rank = rec.get("reranked_best_target_rank") if stage == "reranked" else rec.get("best_target_rank")
    return "-" if rank is None else f"#{rank}"


def _query(ax, rec: dict) -> None:
    ax.set_axis_on()
    show_image(ax, rec["image_path"], frame=QUERY_BLUE)
    ax.set_title(f"query {rec['id']}", color=QUERY_BLUE, fontweight="bold", fontsize=TEXT_PT)
    ax.set_xlabel(
        textwrap.fill(f'"{rec["instruction"]}"', 16, max_lines=3), fontsize=TEXT_PT, color=QUERY_BLUE
    )


def _target(ax, rec_a: dict, rec_b: dict, labels: tuple[str, str], stage: str) -> None:
    ax.set_axis_on()
    paths = rec_a.get("target_paths") or []
    show_image(ax, paths[0] if paths else None, frame=UP)
    more = f" (+{len(paths) - 1})" if len(paths) > 1 else ""
    ax.set_title(f"target{more}", color=UP, fontweight="bold", fontsize=TEXT_PT)
    ax.set_xlabel(f"{labels[0]} {_rank(rec_a, stage)}\n{labels[1]} {_rank(rec_b, stage)}", fontsize=TEXT_PT)


def _hit(ax, title: str, path: str, is_target: bool) -> None:
    ax.set_axis_on()
    show_image(ax, path, frame=UP if is_target else None)
    ax.set_title(title, fontsize=TEXT_PT, color=UP if is_target else "black", fontweight="bold")
    ax.set_xlabel(short_name(path, 14), fontsize=TEXT_PT)
