"""Figure layout: captions from a hit's metadata and even grids."""

from __future__ import annotations

import pytest

from mmrag_lab.plots import layout as plots
from mmrag_lab.retrieval.results import Hit


@pytest.fixture(scope="module")
def images(sample_dir) -> list[str]:
    return sorted(str(p) for p in sample_dir.rglob("*.jpg"))


def test_captions_prefer_the_metadata_title(images):
    hit = Hit(
        rank=1, id="a", path=images[0], score=0.5, meta={"category": "dress", "title": "Short red dress"}
    )
    assert plots.caption(hit) == "Short red dress"
    assert (
        plots.caption(Hit(rank=1, id="a", path=images[0], score=0.5, meta={"category": "dress"})) == "dress"
    )
    long = Hit(rank=1, id="a", path=images[0], score=0.5, meta={"title": "x" * 40})
    lines = plots.caption(long).split("\n")
    assert len(lines) == 2 and all(len(line) <= 18 for line in lines) and lines[1].endswith("...")


def test_grids_lay_out_evenly_for_any_k():
    assert [plots.grid_shape(k, 5) for k in (1, 5, 6, 7, 9, 10, 11)] == [
        (1, 1), (1, 5), (2, 3), (2, 4), (2, 5), (2, 5), (3, 4),
    ]  # fmt: skip
