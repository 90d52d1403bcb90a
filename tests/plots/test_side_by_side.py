"""One grid of a side-by-side comparison: hits the other grid also holds are framed orange and marked."""

from __future__ import annotations

import pytest

from mmrag_lab.plots.figures import UNTRAINED_MARK
from mmrag_lab.plots.layout import FIG_WIDTH
from mmrag_lab.plots.side_by_side import SHARED, plot_hit_grid
from mmrag_lab.retrieval.results import Hit


@pytest.fixture(scope="module")
def hits(sample_dir) -> list[Hit]:
    paths = sorted(str(p) for p in sample_dir.rglob("*.jpg"))[:4]
    return [Hit(rank=i + 1, id=f"h{i}", path=p, score=0.9 - 0.1 * i) for i, p in enumerate(paths)]


def test_shared_hits_are_framed_and_marked(hits):
    fig = plot_hit_grid(hits, {hits[1].path}, "A (tiny)", cols=3)
    shown = [ax for ax in fig.get_axes() if ax.axison]
    assert [ax.get_title() for ax in shown] == ["#1  0.900", "#2  0.800  in both", "#3  0.700", "#4  0.600"]
    assert shown[1].title.get_color() == SHARED and shown[0].title.get_color() == "black"
    assert shown[1].spines["top"].get_visible() and not shown[0].spines["top"].get_visible()
    assert len(fig.get_axes()) == 4  # four hits lay out as 2 x 2, not 3 + 1
    assert fig.get_size_inches()[0] == pytest.approx(FIG_WIDTH / 2) and fig.get_suptitle() == "A (tiny)"


def test_no_hits_and_the_untrained_mark(hits):
    fig = plot_hit_grid([], set(), "B", untrained=True)
    assert not any(ax.axison for ax in fig.get_axes())
    assert fig.get_suptitle() == f"{UNTRAINED_MARK}\nB"
