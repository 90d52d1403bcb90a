"""The inspection figures: thumbnails, failures, the embedding map, near duplicates, the score distribution."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from mmrag_lab.inspection import plots as plots_inspect
from mmrag_lab.inspection.summary import DuplicatePair
from mmrag_lab.plots import figures as plots
from mmrag_lab.workbench.runtime.recorder import describe_figure


@pytest.fixture(scope="module")
def images(sample_dir) -> list[str]:
    return sorted(str(p) for p in sample_dir.rglob("*.jpg"))


def test_thumbnails_and_failures(images):
    fig = plots_inspect.plot_thumbnails(images[:10], "ten", cols=4, untrained=True)
    assert describe_figure(fig)["images"] == 10 and describe_figure(fig)["untrained_mark"]
    failed = [{"path": "/x/bad.jpg", "reason": "not a recognised image format"}] * 3
    fig = plots_inspect.plot_failures(failed)
    cells = [c.get_text().get_text() for c in fig.get_axes()[0].tables[0].get_celld().values()]
    assert "bad.jpg" in cells and "not a recognised image format" in cells
    assert "3 file(s)" in fig.get_suptitle()
    empty = plots_inspect.plot_failures([])
    assert "No failures" in empty.get_axes()[0].texts[0].get_text()


def test_embedding_map_spreads_thumbnails_and_frames_highlights(images):
    coords = np.random.default_rng(0).normal(size=(len(images), 2))
    fig = plots_inspect.plot_embedding_map(coords, images, max_thumbnails=10, highlight=[3], untrained=True)
    info = describe_figure(fig)
    assert 1 <= info["thumbnails"] <= 10  # only where they do not overlap
    ax = fig.get_axes()[0]
    assert sum(len(c.get_offsets()) for c in ax.collections) == len(images)
    assert ax.artists[0].patch.get_edgecolor()[:3] == pytest.approx((0x18 / 255, 0x4E / 255, 0xDC / 255))


def test_near_duplicates_and_score_distribution(images):
    pairs = [
        DuplicatePair("a", "b", images[0], images[1], 0.99),
        DuplicatePair("c", "d", images[2], images[3], 0.9),
    ]
    fig = plots_inspect.plot_near_duplicates(pairs)
    assert describe_figure(fig)["images"] == 4
    assert "#1  similarity 0.9900" in describe_figure(fig)["title"]
    scores = np.linspace(0.0, 1.0, 50)
    fig = plots_inspect.plot_score_distribution(scores, k=5, untrained=True)
    legend = [t.get_text() for t in fig.get_axes()[0].get_legend().get_texts()]
    assert legend == [f"top-5 cut-off ({np.sort(scores)[::-1][4]:.3f})"]
    assert isinstance(fig, Figure) and describe_figure(fig)["untrained_mark"]


def test_map_explains_its_frames_and_axes(images):
    coords = np.random.default_rng(1).normal(size=(len(images), 2))
    fig = plots_inspect.plot_embedding_map(coords, images, highlight=[0, 1, 2], explained=[0.41, 0.25])
    ax = fig.get_axes()[0]
    assert "41% of the variance" in ax.get_xlabel() and "25% of the variance" in ax.get_ylabel()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("top-3 hits (blue frame" in text for text in legend)


def test_near_duplicates_are_captioned_by_title(images):
    pairs = [
        DuplicatePair("a", "b", images[0], images[1], 0.99, "Red dress", ""),
        DuplicatePair("c", "d", images[2], images[3], 0.9),
    ]
    fig = plots_inspect.plot_near_duplicates(pairs)
    labels = [ax.get_xlabel() for ax in fig.get_axes() if ax.get_xlabel()]
    assert labels[0] == "Red dress" and labels[1] == plots.short_name(images[1], 16)
    assert fig.get_size_inches()[0] > fig.get_size_inches()[1]  # a grid, not one tall column
