"""The app's page (notebooks/app.ipynb, served by ``mmrag app``): notices for a missing or empty collection,
the compare tab only when the URI holds two collections, and one readable line for anything unexpected."""

from __future__ import annotations

import ipywidgets as widgets
import pytest

from mmrag_lab.config import Config
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.store.vector_store import Store
from mmrag_lab.workbench.serving.page import app_page
from mmrag_lab.workbench.widgets.search_app import SearchApp

INLINE = IngestOptions(workers=0)  # decode in this process, no worker processes


@pytest.fixture(scope="module")
def uri(tmp_path_factory, sample_dir, tiny_encoder) -> str:
    path = str(tmp_path_factory.mktemp("page") / "page.db")
    config = Config.load(env={}, milvus_uri=path, encoder="tiny", weights="untrained", device="cpu")
    ingest(sample_dir / "hat", config=config.with_overrides(collection="hats"), encoder=tiny_encoder,
           progress=False, options=INLINE)  # fmt: skip
    return path


def _config(uri: str, collection: str) -> Config:
    return Config.load(env={}, milvus_uri=uri, collection=collection, encoder="tiny", weights="untrained",
                       device="cpu")  # fmt: skip


def _texts(widget) -> str:
    if isinstance(widget, widgets.HTML):
        return widget.value
    return " ".join(_texts(child) for child in getattr(widget, "children", ()))


def test_a_missing_collection_is_a_notice_that_says_to_ingest(uri):
    page = app_page(_config(uri, "nothing_here"))
    assert isinstance(page, widgets.HTML) and "No collection to search yet" in page.value
    assert "mmrag ingest IMAGES_DIR --collection nothing_here" in page.value and "Traceback" not in page.value


def test_an_empty_collection_is_a_notice(uri, tiny_encoder):
    config = _config(uri, "empty")
    with Store.open(config) as store:
        store.ensure_collection(tiny_encoder.info)
    try:
        page = app_page(config)
        assert "The collection is empty" in page.value and "holds no images" in page.value
    finally:
        with Store.open(config) as store:
            store.drop()


def test_one_collection_gives_the_app_and_two_add_the_compare_tab(uri, sample_dir, tiny_encoder):
    page = app_page(_config(uri, "hats"), k=4, instruction="in red")
    assert not any(isinstance(child, widgets.Tab) for child in page.children)
    assert "Search hats" in page.children[0].value and "images, encoder tiny" in page.children[0].value
    config = _config(uri, "shoes")
    ingest(sample_dir / "shoes", config=config, encoder=tiny_encoder, progress=False, options=INLINE)
    try:
        tabs = app_page(_config(uri, "hats")).children[1]
        assert isinstance(tabs, widgets.Tab) and tabs.titles == ("Search and rerank", "Compare")
        assert "Search both" in [
            b.description for b in tabs.children[1].children if isinstance(b, widgets.Button)
        ]
    finally:
        with Store.open(config) as store:
            store.drop()


def test_an_unexpected_failure_while_building_is_one_readable_line(uri, monkeypatch, tmp_path):
    def broken(*_args, **_kwargs):
        raise KeyError("meta")

    monkeypatch.setenv("MMRAG_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setattr(SearchApp, "__init__", broken)
    page = app_page(_config(uri, "hats"))
    assert isinstance(page, widgets.HTML)
    assert "Starting the app failed" in page.value and "KeyError: &#x27;meta&#x27;" in page.value
    assert "Traceback" not in page.value
    (log,) = (tmp_path / "logs").iterdir()  # the traceback went to the file the line names
    assert str(log) in page.value and "Traceback" in log.read_text() and "KeyError" in log.read_text()
