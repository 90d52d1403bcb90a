"""Pictures of single evaluated queries: query, target and the top hits, targets framed green."""

from __future__ import annotations

import pytest

from mmrag_lab.evaluation.records.cases import TARGET_GREEN, plot_cases
from mmrag_lab.plots.figures import UNTRAINED_MARK


@pytest.fixture(scope="module")
def records(sample_dir) -> list[dict]:
    paths = sorted(str(p) for p in sample_dir.rglob("*.jpg"))[:6]
    ids = [f"c{i}" for i in range(6)]
    return [
        {"id": "q1", "image_path": paths[0], "instruction": "make it red", "targets": ["c2"],
         "target_paths": [paths[2], paths[3]], "best_target_rank": 3, "ranking": ids, "paths": paths,
         "scores": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4], "reranked": ["c2", "c0", "c1", "c3", "c4", "c5"]},
        {"id": "q2", "image_path": paths[1], "instruction": "shorter", "targets": ["zz"], "target_paths": [],
         "best_target_rank": None, "ranking": ids, "paths": paths, "scores": [None] * 6},
    ]  # fmt: skip


def _titles(fig) -> list[str]:
    return [ax.get_title() for ax in fig.get_axes()]


def test_one_row_per_query_with_query_target_and_hits(records):
    fig = plot_cases(records, hits=4)
    axes = fig.get_axes()
    assert len(axes) == 2 * (4 + 2)
    assert _titles(fig)[:6] == ["query q1", "target (+1)", "#1  0.900", "#2  0.800", "#3  0.700", "#4  0.600"]
    assert axes[1].get_xlabel() == "best rank: 3" and axes[7].get_xlabel() == "best rank: not retrieved"
    assert _titles(fig)[8] == "#1"  # no score stored: the rank alone
    target_hit = axes[4]  # c2, the target, at rank 3
    assert target_hit.title.get_color() == TARGET_GREEN and axes[2].title.get_color() == "black"
    assert fig.get_suptitle() == "Worst queries"


def test_the_reranked_order_and_the_untrained_mark(records):
    fig = plot_cases(records[:1], hits=2, stage="reranked", untrained=True)
    assert _titles(fig) == ["query q1", "target (+1)", "#1  0.700", "#2  0.900"]
    assert fig.get_suptitle() == f"{UNTRAINED_MARK}\nWorst queries after reranking"
