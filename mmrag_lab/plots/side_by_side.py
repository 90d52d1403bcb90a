"""One result grid of a side-by-side comparison: hits that the other grid also holds are framed and marked."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from mmrag_lab.plots.figures import show_image, titled
from mmrag_lab.plots.layout import FIG_WIDTH, TEXT_PT, caption, grid_shape

SHARED = "#b35c00"
SHARED_MARK = "in both"


def plot_hit_grid(
    hits: Sequence[Any], shared: Collection[str], title: str, *, cols: int = 3, untrained: bool = False
) -> Figure:
    """The hits (``rank``, ``path``, ``score``) as a grid for half a notebook column.

    Args:
        hits: The hits, best first.
        shared: Paths that the other grid also returns; those tiles get an orange frame and "in both".
        title: The figure title (name the collection and its encoder).
        cols: Tiles per row at most.
        untrained: Add the red untrained-weights mark.
    """
    rows, cols = grid_shape(max(1, len(hits)), cols)
    side = FIG_WIDTH / 2 / cols
    fig = Figure(figsize=(FIG_WIDTH / 2, (side + 0.75) * rows + 0.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax in axes:
        ax.set_axis_off()
    for ax, hit in zip(axes, hits, strict=False):
        both = str(hit.path) in shared
        ax.set_axis_on()
        show_image(ax, hit.path, frame=SHARED if both else None)
        label = f"#{hit.rank}  {hit.score:.3f}" + (f"  {SHARED_MARK}" if both else "")
        ax.set_title(label, fontsize=TEXT_PT, color=SHARED if both else "black", fontweight="bold")
        ax.set_xlabel(caption(hit, 16), fontsize=TEXT_PT)
    return titled(fig, title, untrained)
