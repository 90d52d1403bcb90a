"""Figures: grids with ranks and scores, moves after reranking, readable text, the untrained mark."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell
from matplotlib.figure import Figure

from mmrag_lab.plots import figures as plots
from mmrag_lab.reranking.result import RerankResult, fallback
from mmrag_lab.retrieval.results import Hit, SearchQuery, SearchResults
from mmrag_lab.workbench.runtime.recorder import describe_figure


@pytest.fixture(scope="module")
def images(sample_dir) -> list[str]:
    return sorted(str(p) for p in sample_dir.rglob("*.jpg"))


def _results(paths: list[str], untrained: bool = True) -> SearchResults:
    hits = [Hit(rank=i + 1, id=f"id{i}", path=p, score=0.9 - 0.05 * i) for i, p in enumerate(paths)]
    query = SearchQuery("composed", len(hits), instruction="in red", image_path=paths[0])
    return SearchResults(hits, query, encoder="tiny", untrained=untrained, collection="c")


def test_result_grid_has_the_query_and_every_hit_with_rank_and_score(images):
    results = _results(images[1:8])
    fig = plots.plot_results(results, query_image=images[0])
    info = describe_figure(fig)
    assert info["images"] == 8
    assert info["panel_titles"][0] == "query"
    assert info["panel_titles"][1:] == [f"#{h.rank}  {h.score:.3f}" for h in results]
    assert info["untrained_mark"] and plots.UNTRAINED_MARK in info["title"]


def test_result_grid_without_query_and_with_real_weights_has_no_mark(images):
    fig = plots.plot_results(_results(images[:3], untrained=False), title="three")
    info = describe_figure(fig)
    assert info["images"] == 3 and info["title"] == "three" and not info["untrained_mark"]


def test_unreadable_hit_becomes_a_grey_tile(tmp_path, images):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    fig = plots.plot_results(_results([images[0], str(broken)]), query_image=images[0])
    texts = [t.get_text() for ax in fig.get_axes() for t in ax.texts]
    assert "unreadable" in texts
    assert describe_figure(fig)["images"] == 2  # the query and the readable hit


def test_empty_results_say_so(images):
    fig = plots.plot_results(_results(images[:1])[:0], query_image=images[0])
    assert any(t.get_text() == "no hits" for ax in fig.get_axes() for t in ax.texts)


def test_rerank_figure_marks_every_move(images):
    results = _results(images[1:6])
    order = [4, 0, 1, 3, 2]
    reranked = RerankResult(order=order, hits=[results[i] for i in order], model="stub-model")
    fig = plots.plot_rerank(results, reranked, query_image=images[0])
    retrieval, after = (sub.get_axes() for sub in fig.subfigs[1:])
    assert [ax.get_title() for ax in after if ax.get_title()] == [
        "#1 ▲4 (was #5)", "#2 ▼1 (was #1)", "#3 ▼1 (was #2)", "#4  (=)", "#5 ▼2 (was #3)",
    ]  # fmt: skip
    assert retrieval[0].get_title() == "#1 0.900 → #2"
    assert retrieval[3].get_title() == "#4 0.750"
    assert (
        [ax.get_xlabel() for ax in after][0] == plots.caption(results[4]) == plots.short_name(images[5], 18)
    )
    assert "reranked by stub-model" in fig.subfigs[2].get_suptitle()
    assert describe_figure(fig)["untrained_mark"]


def test_rerank_fallback_says_why(images):
    results = _results(images[1:4])
    fig = plots.plot_rerank(results, fallback(list(results), "no endpoint: set OPENAI_API_KEY"))
    assert "fell back" in fig.subfigs[2].get_suptitle() and "OPENAI_API_KEY" in fig.subfigs[2].get_suptitle()


def test_rank_moves():
    assert plots.rank_moves([2, 0, 1]) == [2, -1, -1]


def test_figures_display_as_png_in_ipython(images):
    shell = InteractiveShell.instance()
    plots._register_notebook_display()
    data, _ = shell.display_formatter.format(plots.plot_results(_results(images[:2])))
    assert data["image/png"][:8] == b"\x89PNG\r\n\x1a\n"


def _texts(fig: Figure) -> list:
    fig.canvas.draw()
    return [
        t
        for t in fig.findobj(lambda a: hasattr(a, "get_fontsize") and hasattr(a, "get_text"))
        if t.get_text()
    ]


@pytest.mark.parametrize("k", [3, 6, 9, 12])
def test_figures_stay_readable_at_1100_px(images, k):
    results = _results(images[1 : k + 1])
    order = list(range(k))[::-1]
    reranked = RerankResult(order=order, hits=[results[i] for i in order], model="m")
    for fig in (plots.plot_results(results, images[0]), plots.plot_rerank(results, reranked, images[0])):
        assert fig.get_size_inches()[0] <= plots.FIG_WIDTH + 0.5  # about 1000 px at 100 dpi: no downscaling
        small = [(t.get_text(), t.get_fontsize()) for t in _texts(fig) if t.get_fontsize() < plots.TEXT_PT]
        assert not small
