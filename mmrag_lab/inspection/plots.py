"""Figures of a collection: ingest thumbnails, failures, the 2-D map, near-duplicates, score distributions.

Like :mod:`mmrag_lab.plots.figures`, every function returns a bare Figure whose title carries the untrained mark
when it applies.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.offsetbox import AnnotationBbox, OffsetImage
from matplotlib.patches import Patch

from mmrag_lab.images import ImageSource
from mmrag_lab.plots.figures import QUERY_BLUE, show_image, thumbnail, titled
from mmrag_lab.plots.layout import FIG_WIDTH, TEXT_PT, grid_shape, short_name


def plot_thumbnails(
    images: Sequence[ImageSource],
    title: str = "A sample of the collection",
    *,
    cols: int = 8,
    labels: Sequence[str] | None = None,
    untrained: bool = False,
) -> Figure:
    """A grid of small pictures, each labelled with its file name (or ``labels``)."""
    images = list(images)
    rows, cols = grid_shape(len(images), cols)
    side = min(1.7, FIG_WIDTH / cols)
    fig = Figure(figsize=(side * cols, (side + 0.35) * rows + 0.8), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for i, source in enumerate(images):
        ax = axes[i // cols, i % cols]
        ax.set_axis_on()
        show_image(ax, source)
        ax.set_xlabel(labels[i] if labels else short_name(source, 14), fontsize=TEXT_PT - 1)
    if not images:
        axes[0, 0].text(0.5, 0.5, "nothing to show", ha="center", va="center")
    return titled(fig, title, untrained)


def plot_failures(
    failed: Sequence[Mapping[str, str]], title: str | None = None, *, max_rows: int = 20
) -> Figure:
    """The files that could not be ingested, with their reasons, as a table figure."""
    rows = [(short_name(f["path"], 40), textwrap.shorten(f["reason"], 90)) for f in failed[:max_rows]]
    fig = Figure(figsize=(11, 0.9 + 0.32 * max(1, len(rows))), layout="constrained")
    ax = fig.subplots()
    ax.set_axis_off()
    if not rows:
        ax.text(0.5, 0.5, "No failures: every image file went in.", ha="center", va="center", fontsize=12)
    else:
        table = ax.table(
            cellText=rows, colLabels=("file", "reason"), colWidths=(0.3, 0.7), loc="upper center"
        )
        table.auto_set_font_size(False)
        table.set_fontsize(TEXT_PT)
        for (row, _col), cell in table.get_celld().items():
            if row == 0:
                cell.set_text_props(fontweight="bold")
    more = f" (first {max_rows} of {len(failed)})" if len(failed) > max_rows else ""
    return titled(fig, title or f"{len(failed)} file(s) could not be ingested{more}")


def plot_embedding_map(
    coords: np.ndarray,
    images: Sequence[ImageSource],
    title: str = "The collection in 2-D (PCA)",
    *,
    max_thumbnails: int = 60,
    zoom_px: int = 52,
    highlight: Sequence[int] = (),
    explained: Sequence[float] | None = None,
    untrained: bool = False,
) -> Figure:
    """Each vector as a point at its 2-D position, with thumbnails where they do not overlap.

    Args:
        coords: ``(n, 2)`` positions, e.g. from :func:`mmrag_lab.inspection.summary.project_2d`.
        images: The picture of each point.
        title: Figure title.
        max_thumbnails: At most this many points get a thumbnail (the rest stay dots).
        zoom_px: Thumbnail side in pixels.
        highlight: Indices framed in blue (e.g. the hits of a query); they get thumbnails first.
        explained: Share of the variance each axis explains (``project_2d``'s second value).
        untrained: Add the untrained mark.
    """
    coords = np.asarray(coords, dtype=float).reshape(-1, 2)
    fig = Figure(figsize=(FIG_WIDTH, 7.2), layout="constrained")
    ax = fig.subplots()
    hit = np.isin(np.arange(len(coords)), list(highlight))
    ax.scatter(coords[~hit, 0], coords[~hit, 1], s=14, c="#888888")
    ax.scatter(coords[hit, 0], coords[hit, 1], s=30, facecolors="none", edgecolors=QUERY_BLUE, linewidths=1.5)
    shown = _spread_out(coords, [*highlight, *range(len(coords))], max_thumbnails, zoom_px / (FIG_WIDTH * 80))
    for i in shown:
        pixels = thumbnail(images[i], px=2 * zoom_px)  # drawn at half size: crisp, not pixelated
        if pixels is None:
            continue
        frame = QUERY_BLUE if hit[i] else "#bbbbbb"
        box = AnnotationBbox(OffsetImage(pixels, zoom=zoom_px / max(pixels.shape[:2]), interpolation="antialiased"),
                             coords[i], frameon=True, pad=0.15,
                             bboxprops={"edgecolor": frame, "linewidth": 2.5 if hit[i] else 0.5})  # fmt: skip
        ax.add_artist(box)
    share = list(explained) if explained is not None else None
    ax.set_xlabel(
        "principal component 1" + (f" ({share[0]:.0%} of the variance)" if share else ""),
        fontsize=TEXT_PT + 1,
    )
    ax.set_ylabel(
        "principal component 2" + (f" ({share[1]:.0%} of the variance)" if share else ""),
        fontsize=TEXT_PT + 1,
    )
    ax.margins(0.1)
    handles = [Line2D([], [], marker="o", ls="", color="#888888", label="an image (no room for its thumbnail)"),
               Patch(facecolor="white", edgecolor="#bbbbbb", label="an image's thumbnail")]  # fmt: skip
    if len(highlight):
        handles.append(Patch(facecolor="white", edgecolor=QUERY_BLUE, linewidth=2.5,
                             label=f"the query's top-{len(highlight)} hits (blue frame or ring)"))  # fmt: skip
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.08),
        ncols=3,
        fontsize=TEXT_PT,
        frameon=False,
    )
    ax.set_title(f"{len(coords)} vectors, {len(shown)} with thumbnails", fontsize=TEXT_PT)
    return titled(fig, title, untrained)


def _spread_out(coords: np.ndarray, order: Sequence[int], limit: int, size: float) -> list[int]:
    """Up to ``limit`` indices, taken in ``order``, whose thumbnails (``size``: a share of the axes'
    width) do not overlap once the points are scaled into the unit square."""
    if not len(coords):
        return []
    low, span = coords.min(axis=0), np.ptp(coords, axis=0)
    unit = (coords - low) / np.where(span > 0, span, 1) * 0.8  # the axes' margins take the rest
    taken: list[int] = []
    for i in dict.fromkeys(order):
        if len(taken) >= limit:
            break
        if all(np.any(np.abs(unit[i] - unit[j]) > size * np.array([1.0, 1.3])) for j in taken):
            taken.append(i)
    return taken


def plot_near_duplicates(
    pairs: Sequence[Any],
    title: str | None = None,
    *,
    max_pairs: int = 6,
    cols: int = 3,
    untrained: bool = False,
) -> Figure:
    """The most similar pairs side by side, ``cols`` pairs a row, each with its cosine similarity and the
    pictures' titles (file names where there are none)."""
    pairs = list(pairs)[:max_pairs]
    rows, cols = grid_shape(len(pairs), cols)
    side = min(1.8, FIG_WIDTH / (2 * cols) - 0.1)
    fig = Figure(figsize=((2 * side + 0.2) * cols, (side + 1.1) * rows + 0.8), layout="constrained")
    subs = np.atleast_1d(fig.subfigures(rows, cols, squeeze=False).ravel())
    for n, sub in enumerate(subs):
        axes = sub.subplots(1, 2)
        for ax in axes:
            ax.set_axis_off()
        if n >= len(pairs):
            continue
        pair = pairs[n]
        for ax, path, name in zip(axes, (pair.path_a, pair.path_b), (pair.title_a, pair.title_b)):
            ax.set_axis_on()
            show_image(ax, path)
            label = name or short_name(path, 16)
            ax.set_xlabel(
                textwrap.fill(label, 17, max_lines=2, placeholder="..."),
                fontsize=TEXT_PT,
            )
        sub.suptitle(f"#{n + 1}  similarity {pair.score:.4f}", fontsize=TEXT_PT + 1, fontweight="bold")
    if not pairs:
        subs[0].text(0.5, 0.5, "no pairs above the threshold", ha="center", va="center", fontsize=TEXT_PT + 2)
    return titled(fig, title or "Nearest pairs (possible near-duplicates)", untrained)


def plot_score_distribution(
    scores: np.ndarray, k: int | None = None, title: str | None = None, *, untrained: bool = False
) -> Figure:
    """Histogram of one query's similarity to every vector, with the top-k cut-off marked."""
    scores = np.sort(np.asarray(scores, dtype=float).ravel())[::-1]
    fig = Figure(figsize=(8, 3.8), layout="constrained")
    ax = fig.subplots()
    ax.hist(scores, bins=min(40, max(5, len(scores) // 2)), color="#7a9cc6", edgecolor="white")
    if k and len(scores):
        cut = scores[min(k, len(scores)) - 1]
        ax.axvline(cut, color="#c62828", linestyle="--", label=f"top-{k} cut-off ({cut:.3f})")
        ax.legend(loc="upper left", fontsize=TEXT_PT)
    if len(scores):
        ax.set_title(f"{len(scores)} vectors: best {scores[0]:.3f}, median {np.median(scores):.3f}, "
                     f"worst {scores[-1]:.3f}", fontsize=TEXT_PT)  # fmt: skip
    ax.set(xlabel="similarity to the query (higher is closer)", ylabel="vectors")
    return titled(fig, title or "How the query scores against the whole collection", untrained)
