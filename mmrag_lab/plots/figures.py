"""Figures of search results: the query and its hits, and the reranked order beside the retrieval order.

Every function returns a bare :class:`matplotlib.figure.Figure` (no pyplot state, so nothing is shown
twice in a notebook and nothing needs a GUI backend). Titles carry an "UNTRAINED WEIGHTS" mark whenever
the vectors came from untrained weights, so such pictures are never mistaken for real results.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from mmrag_lab.errors import ImageLoadError
from mmrag_lab.images import ImageSource, load_image
from mmrag_lab.plots.layout import FIG_WIDTH, TEXT_PT, caption, grid_shape
from mmrag_lab.plots.layout import short_name as short_name  # re-exported: stages import it from here

UNTRAINED_MARK = "UNTRAINED WEIGHTS: vectors and scores mean nothing"
QUERY_BLUE = "#184edc"
UP, DOWN, SAME = "#1a7f37", "#c62828", "#6e7781"
THUMB_PX = 256


def is_untrained(*objects: Any) -> bool:
    """True when any object (results, report, rerank result, encoder info, dict) says ``untrained``."""
    for obj in objects:
        flag = obj.get("untrained") if isinstance(obj, dict) else getattr(obj, "untrained", None)
        if flag is None and getattr(obj, "info", None) is not None:
            flag = getattr(obj.info, "untrained", None)
        if flag:
            return True
    return False


def titled(fig: Figure, title: str, untrained: bool = False) -> Figure:
    """Set the figure's title; an untrained run gets a red warning line above it."""
    if untrained:
        fig.suptitle(f"{UNTRAINED_MARK}\n{title}", color="#b00020", fontsize=12, fontweight="bold")
    else:
        fig.suptitle(title, fontsize=12, fontweight="bold")
    return fig


def thumbnail(source: ImageSource, px: int = THUMB_PX) -> np.ndarray | None:
    """A small RGB array of the picture, or None when it cannot be read."""
    try:
        picture = load_image(source, draft=px)
    except ImageLoadError:
        return None
    picture.thumbnail((px, px))
    return np.asarray(picture)


def show_image(ax: Axes, source: ImageSource | None, frame: str | None = None) -> None:
    """Draw one picture into ``ax`` without ticks; an unreadable one becomes a grey "unreadable" tile."""
    pixels = thumbnail(source) if source is not None else None
    if pixels is None:
        ax.set_facecolor("#d0d0d0")
        ax.text(0.5, 0.5, "unreadable", ha="center", va="center", transform=ax.transAxes, color="white")
    else:
        ax.imshow(pixels)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(frame is not None)
        if frame is not None:
            spine.set_edgecolor(frame)
            spine.set_linewidth(3)


def hits_of(results: Any) -> list[Any]:
    """The hits of a ``SearchResults``, a ``RerankResult`` or a plain list."""
    return list(getattr(results, "hits", results))


def _query_tile(ax: Axes, query_image: ImageSource, instruction: str | None) -> None:
    show_image(ax, query_image, frame=QUERY_BLUE)
    ax.set_title("query", color=QUERY_BLUE, fontweight="bold", fontsize=TEXT_PT + 1)
    if instruction:
        ax.set_xlabel(textwrap.fill(f'"{instruction}"', 18, max_lines=3), fontsize=TEXT_PT, color=QUERY_BLUE)
    else:
        ax.set_xlabel("(image only, no instruction)", fontsize=TEXT_PT, color=QUERY_BLUE)


def _hit_tile(ax: Axes, hit: Any, position: int, label: str | None = None, color: str = "black") -> None:
    show_image(ax, getattr(hit, "path", hit))
    rank = getattr(hit, "rank", position + 1)
    score = getattr(hit, "score", None)
    text = label or (f"#{rank}  {score:.3f}" if score is not None else f"#{rank}")
    ax.set_title(text, fontsize=TEXT_PT + 1, color=color, fontweight="bold")
    ax.set_xlabel(caption(hit), fontsize=TEXT_PT)


def plot_results(
    results: Any,
    query_image: ImageSource | None = None,
    title: str | None = None,
    *,
    instruction: str | None = None,
    cols: int = 5,
    untrained: bool | None = None,
) -> Figure:
    """The query (blue frame) and its top-k hits, each tile with its rank and score.

    Args:
        results: A ``SearchResults`` (or any list of hits with ``rank``, ``path`` and ``score``).
        query_image: The query picture; left out of the grid when None.
        title: Figure title; default "Top-k for the query".
        instruction: The text part of a composed query, shown under the query.
        cols: At most this many hits per row; rows are filled evenly.
        untrained: Force the untrained mark on or off; default: ``results.untrained``.
    """
    hits = hits_of(results)
    instruction = instruction if instruction is not None else getattr(results, "instruction", None)
    lead = 1 if query_image is not None else 0
    rows, cols = grid_shape(len(hits), cols)
    side = min(1.9, FIG_WIDTH / (cols + lead))
    fig = Figure(figsize=(side * (cols + lead), (side + 0.75) * rows + 0.9), layout="constrained")
    axes = np.atleast_2d(fig.subplots(rows, cols + lead, squeeze=False))
    for ax in axes.flat:
        ax.set_axis_off()
    if lead:
        axes[0, 0].set_axis_on()
        _query_tile(axes[0, 0], query_image, instruction)
    for i, hit in enumerate(hits):
        ax = axes[i // cols, lead + i % cols]
        ax.set_axis_on()
        _hit_tile(ax, hit, i)
    if not hits:
        axes[0, -1].text(0.5, 0.5, "no hits", ha="center", va="center", fontsize=14)
    untrained = is_untrained(results) if untrained is None else untrained
    return titled(fig, title or f"Top {len(hits)} for the query", untrained)


def rank_moves(order: Sequence[int]) -> list[int]:
    """For each new position, how many places the hit moved up (+) or down (-) from retrieval."""
    return [old - new for new, old in enumerate(order)]


def _went_label(hit: Any, old: int, new: int) -> str:
    score = getattr(hit, "score", None)
    shown = f"#{old + 1} {score:.3f}" if score is not None else f"#{old + 1}"
    return shown if old == new else f"{shown} → #{new + 1}"


def _move_label(new: int, old: int) -> tuple[str, str]:
    if old == new:
        return f"#{new + 1}  (=)", SAME
    arrow, color = ("▲", UP) if old > new else ("▼", DOWN)
    return f"#{new + 1} {arrow}{abs(old - new)} (was #{old + 1})", color


def plot_rerank(
    results: Any,
    reranked: Any,
    query_image: ImageSource | None = None,
    title: str | None = None,
    *,
    instruction: str | None = None,
    cols: int = 3,
    untrained: bool | None = None,
) -> Figure:
    """The retrieval grid (left) beside the reranked grid (right), with every move marked.

    Reranked tiles say where each hit came from ("#1 ▲4 (was #5)", green up, red down); retrieval tiles
    say where each hit went. A fallback result shows the kept order and the reason in the title.

    Args:
        results: The ``SearchResults`` that were reranked.
        reranked: A ``RerankResult`` (``order``: retrieval indices, best first).
        query_image: The query picture, drawn on the far left.
        title: Figure title.
        instruction: The text part of the query.
        cols: Columns of each grid.
        untrained: Force the untrained mark; default: ``results.untrained``.
    """
    hits = hits_of(results)
    order = list(reranked.order)
    new_of = {old: new for new, old in enumerate(order)}
    rows, cols = grid_shape(len(hits), cols)
    side = min(1.9, FIG_WIDTH / (2 * cols + 1))
    fig = Figure(figsize=(side * (2 * cols + 1) + 0.3, (side + 0.8) * rows + 1.3), layout="constrained")
    left, middle, right = fig.subfigures(1, 3, width_ratios=[1, cols, cols], wspace=0.04)
    if query_image is not None:
        _query_tile(left.subplots(), query_image, instruction or getattr(results, "instruction", None))
    _grid(middle, hits, cols, rows, lambda i: (_went_label(hits[i], i, new_of.get(i, i)), "black"))
    _grid(right, [hits[i] for i in order], cols, rows, lambda n: _move_label(n, order[n]))
    middle.suptitle("retrieval order", fontsize=TEXT_PT + 1)
    right.suptitle(
        _rerank_heading(reranked), fontsize=TEXT_PT + 1, color=SAME if reranked.fallback_reason else UP
    )
    untrained = is_untrained(results) if untrained is None else untrained
    return titled(fig, title or "Reranked beside retrieval", untrained)


def _grid(sub: Any, hits: Sequence[Any], cols: int, rows: int, label) -> None:
    axes = np.atleast_2d(sub.subplots(rows, cols, squeeze=False))
    for ax in axes.flat:
        ax.set_axis_off()
    for i, hit in enumerate(hits):
        ax = axes[i // cols, i % cols]
        ax.set_axis_on()
        text, color = label(i)
        _hit_tile(ax, hit, i, label=text, color=color)


def _rerank_heading(reranked: Any) -> str:
    if reranked.fallback_reason:
        return "reranker fell back: retrieval order kept\n" + textwrap.fill(
            textwrap.shorten(reranked.fallback_reason, 120), 60
        )
    return f"reranked by {reranked.model or 'the LLM'}" + (" (cached reply)" if reranked.cached else "")


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def _register_notebook_display() -> None:
    # A bare Figure has no rich repr of its own; pyplot's inline backend registers one only once pyplot is
    # imported. Registering it here makes every figure from this package show as a picture in Jupyter
    # and Colab, and headless runs (papermill) keep the PNG in the executed notebook.
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and hasattr(shell, "display_formatter"):
        shell.display_formatter.formatters["image/png"].for_type(Figure, figure_png)


_register_notebook_display()
