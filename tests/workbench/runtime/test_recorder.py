"""The recorder: JSON values and PNG figures in a run folder, nothing at all without one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from mmrag_lab.plots.figures import titled
from mmrag_lab.retrieval.results import Hit
from mmrag_lab.workbench.runtime.recorder import Recorder, describe_figure, load_record, to_jsonable


def _figure(untrained: bool) -> Figure:
    fig = Figure(figsize=(3, 2))
    ax = fig.subplots()
    ax.imshow(np.zeros((4, 4, 3)))
    ax.set_title("panel")
    return titled(fig, "a figure", untrained)


def test_values_and_figures_land_in_the_run_folder(tmp_path):
    recorder = Recorder(tmp_path, "02_search")
    hit = Hit(rank=1, id="x", path="/a.jpg", score=np.float32(0.5))
    recorder.record("search", hits=[hit], scores=np.array([0.5, 0.25]), folder=Path("/data"), k=np.int64(3))
    fig = _figure(untrained=True)
    assert recorder.save_figure(fig, "results") is fig
    saved = load_record(tmp_path, "02_search")
    assert saved["notebook"] == "02_search"
    assert saved["search"]["hits"][0]["path"] == "/a.jpg" and saved["search"]["scores"] == [0.5, 0.25]
    assert saved["search"]["folder"] == "/data" and saved["search"]["k"] == 3
    entry = saved["figures"]["results"]
    assert entry["png"] == "figures/02_search-results.png" and entry["untrained_mark"]
    assert entry["panel_titles"] == ["panel"] and entry["images"] == 1
    with Image.open(tmp_path / entry["png"]) as png:
        assert png.format == "PNG"


def test_without_a_run_folder_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recorder = Recorder(None, "01_ingest")
    recorder.record("ingest", seen=3)
    recorder.save_figure(_figure(untrained=False), "thumbs")
    assert recorder.path is None and list(tmp_path.iterdir()) == []
    assert recorder.values["ingest"] == {"seen": 3}
    assert not recorder.values["figures"]["thumbs"]["untrained_mark"]


def test_to_jsonable_is_json_safe():
    value = to_jsonable({"a": (1, 2.5), "b": {np.float64(1.0)}, "c": object()})
    json.dumps(value)
    assert value["a"] == [1, 2.5] and value["b"] == [1.0] and value["c"].startswith("<object")


def test_describe_figure_reads_titles_of_subfigures():
    fig = Figure()
    left, right = fig.subfigures(1, 2)
    right.suptitle("inner")
    titled(fig, "outer", untrained=True)
    info = describe_figure(fig)
    assert info["title"].endswith("outer\ninner") and info["untrained_mark"]
