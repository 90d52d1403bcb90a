"""Figures of a collection: ingest thumbnails, failures, the 2-D map, near-duplicates, score distributions.

Like :mod:`mmrag_lab.plots.figures`, every function returns a bare Figure whose title carries the untrained mark
when it applies.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.offsetbox import AnnotationBbox, OffsetImage

from mmrag_lab.images import ImageSource
from mmrag_lab.plots.figures import QUERY_BLUE, short_name, show_image, thumbnail, titled


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
    cols = max(1, min(cols, len(images) or 1))
    rows = max(1, math.ceil(len(images) / cols))
    fig = Figure(figsize=(1.7 * cols, 1.9 * rows + 0.8), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for i, source in enumerate(images):
        ax = axes[i // cols, i % cols]
        ax.set_axis_on()
        show_image(ax, source)
        ax.set_xlabel(labels[i] if labels else short_name(source, 18), fontsize=7)
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
        table.set_fontsize(8)
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
    zoom_px: int = 44,
    highlight: Sequence[int] = (),
    untrained: bool = False,
) -> Figure:
    """Each vector as a point at its 2-D position, with thumbnails on an evenly spread subset.

    Args:
        coords: ``(n, 2)`` positions, e.g. from :func:`mmrag_lab.inspection.collection.project_2d`.
        images: The picture of each point.
        title: Figure title.
        max_thumbnails: At most this many points get a thumbnail (the rest stay dots).
        zoom_px: Thumbnail side in pixels.
        highlight: Indices to ring in blue (e.g. the hits of a query).
        untrained: Add the untrained mark.
    """
    coords = np.asarray(coords, dtype=float).reshape(-1, 2)
    fig = Figure(figsize=(9, 7.5), layout="constrained")
    ax = fig.subplots()
    ax.scatter(coords[:, 0], coords[:, 1], s=10, c="#888888")
    shown = np.linspace(0, len(coords) - 1, min(max_thumbnails, len(coords))).round().astype(int)
    for i in sorted(set(shown.tolist()) | set(highlight)):
        pixels = thumbnail(images[i], px=zoom_px)
        if pixels is None:
            continue
        frame = QUERY_BLUE if i in highlight else "#bbbbbb"
        box = AnnotationBbox(OffsetImage(pixels, zoom=1.0), coords[i], frameon=True,
                             bboxprops={"edgecolor": frame, "linewidth": 2 if i in highlight else 0.5})  # fmt: skip
        ax.add_artist(box)
    ax.set(xlabel="principal component 1", ylabel="principal component 2")
    ax.margins(0.08)
    ax.set_title(f"{len(coords)} vectors, {len(shown)} with thumbnails", fontsize=9)
    return titled(fig, title, untrained)


def plot_near_duplicates(
    pairs: Sequence[Any], title: str | None = None, *, max_pairs: int = 6, untrained: bool = False
) -> Figure:
    """The most similar pairs side by side, each with its cosine similarity."""
    pairs = list(pairs)[:max_pairs]
    rows = max(1, len(pairs))
    fig = Figure(figsize=(5.2, 2.4 * rows + 0.8), layout="constrained")
    axes = fig.subplots(rows, 2, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for row, pair in enumerate(pairs):
        for col, path in enumerate((pair.path_a, pair.path_b)):
            axes[row, col].set_axis_on()
            show_image(axes[row, col], path)
            axes[row, col].set_xlabel(short_name(path), fontsize=8)
        axes[row, 0].set_title(f"similarity {pair.score:.4f}", fontsize=10, loc="left", fontweight="bold")
    if not pairs:
        axes[0, 0].text(1.0, 0.5, "no pairs above the threshold", ha="center", va="center")
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
        ax.legend(loc="upper left")
    if len(scores):
        ax.set_title(f"{len(scores)} vectors: best {scores[0]:.3f}, median {np.median(scores):.3f}, "
                     f"worst {scores[-1]:.3f}", fontsize=9)  # fmt: skip
    ax.set(xlabel="similarity to the query (higher is closer)", ylabel="vectors")
    return titled(fig, title or "How the query scores against the whole collection", untrained)
