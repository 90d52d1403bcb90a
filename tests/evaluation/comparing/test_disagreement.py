"""The disagreement figure: each query's target ranks in both runs, then each run's top hits side by side."""

from __future__ import annotations

import pytest

from mmrag_lab.evaluation.comparing.disagreement import plot_disagreements
from mmrag_lab.plots.figures import UP
from mmrag_lab.plots.layout import FIG_WIDTH


@pytest.fixture(scope="module")
def pair(sample_dir) -> tuple[dict, dict]:
    paths = sorted(str(p) for p in sample_dir.rglob("*.jpg"))[:4]
    base = {"id": "q7", "image_path": paths[0], "instruction": "in blue", "targets": ["t"],
            "target_paths": [paths[1]], "paths": paths[:3]}  # fmt: skip
    a = {**base, "ranking": ["x", "y", "t"], "best_target_rank": 3, "reranked": ["t", "x", "y"],
         "reranked_best_target_rank": 1}  # fmt: skip
    b = {**base, "ranking": ["t", "x", "y"], "best_target_rank": 1}
    return a, b


def test_one_row_per_query_with_both_runs_hits(pair):
    fig = plot_disagreements([pair], ("A", "B"), hits=2)
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == ["query q7", "target", "A #1", "A #2", "B #1", "B #2"]
    assert axes[1].get_xlabel() == "A #3\nB #1"
    assert (
        axes[4].title.get_color() == UP and axes[2].title.get_color() == "black"
    )  # B's first hit is the target
    assert fig.get_size_inches()[0] == pytest.approx(FIG_WIDTH)
    assert fig.get_suptitle() == "Where B and A disagree most (best target rank)"


def test_the_reranked_stage_uses_the_reranked_order_and_ranks(pair):
    fig = plot_disagreements([pair], ("A", "B"), stage="reranked", hits=1)
    axes = fig.get_axes()
    assert axes[1].get_xlabel() == "A #1\nB -"  # B was not reranked
    assert axes[2].title.get_color() == UP  # A's reranked first hit is the target
