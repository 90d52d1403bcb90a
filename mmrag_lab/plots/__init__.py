"""Plots: the figures every stage shares (result grids, rerank comparisons) and their common parts.

Figures are matplotlib ``Figure`` objects sized for a laptop-width notebook, marked when the weights are
untrained. Stage-specific figures live with their stage (``inspection.plots``, ``evaluation.report``).
"""

from mmrag_lab.plots.figures import (
    QUERY_BLUE,
    UNTRAINED_MARK,
    figure_png,
    is_untrained,
    plot_rerank,
    plot_results,
    short_name,
    show_image,
    thumbnail,
    titled,
)

__all__ = [
    "QUERY_BLUE",
    "UNTRAINED_MARK",
    "figure_png",
    "is_untrained",
    "plot_rerank",
    "plot_results",
    "short_name",
    "show_image",
    "thumbnail",
    "titled",
]
