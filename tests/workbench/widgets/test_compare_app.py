"""The compare view, driven headless: two collections, one query, two grids, and the messages it gives."""

from __future__ import annotations

import datetime

import pytest

from mmrag_lab.config import Config
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.workbench.runtime.sample import sample_metadata
from mmrag_lab.workbench.widgets.compare_app import NO_COLLECTION, CompareApp
from mmrag_lab.workbench.widgets.compare_backend import list_collections


@pytest.fixture(scope="module")
def uri(tmp_path_factory, sample_dir, tiny_encoder) -> Config:
    """``all``: the 40 sample images; ``some``: the dresses and hats only; ``other``: not made by mmrag_lab."""
    root = tmp_path_factory.mktemp("compare_app")
    config = Config.load(env={}, milvus_uri=str(root / "cmp.db"), encoder="tiny", weights="untrained",
                         device="cpu", cache_dir=str(root / "cache"))  # fmt: skip
    ingest(sample_dir, config=config.with_overrides(collection="all"), encoder=tiny_encoder,
           metadata=sample_metadata(), progress=False, options=IngestOptions(workers=0))  # fmt: skip
    for folder in ("dress", "hat"):
        ingest(sample_dir / folder, config=config.with_overrides(collection="some"), encoder=tiny_encoder,
               progress=False, options=IngestOptions(workers=0))  # fmt: skip
    from mmrag_lab.store.vector_store import Store

    with Store.open(config, collection="other") as store:
        store.client.create_collection("other", dimension=4)
    return config


def test_the_collections_are_listed_with_their_encoders(uri):
    assert [(c.name, c.encoder, c.untrained) for c in list_collections(uri)] == [
        ("all", "tiny", True), ("some", "tiny", True)]  # fmt: skip
    app = CompareApp(uri)
    assert [label for label, _ in app.left.options] == [
        NO_COLLECTION,
        "all (tiny, untrained)",
        "some (tiny, untrained)",
    ]
    assert (app.left.value, app.right.value) == ("all", "some")
    assert len(app.pick.options) == 41  # the placeholder and the left collection's 40 images


def test_one_query_searches_both_and_marks_what_both_return(uri, sample_dir):
    app = CompareApp(uri, k=6)
    hat = next(label for label, path in app.pick.options if "/hat/" in str(path))
    app.pick.value = dict(app.pick.options)[hat]
    app.instruction.value = "the same, in red"
    app.search_button.click()
    left, right = app.results
    assert len(left) == len(right) == 6
    assert {h.path.split("/")[-2] for h in right} <= {"dress", "hat"}  # "some" holds nothing else
    assert app.shared == {h.path for h in left} & {h.path for h in right}
    assert all(len(o.outputs) == 1 for o in app.outputs)
    assert [h.value for h in app.headers] == [
        "<b>all</b>, encoder <b>tiny</b>",
        "<b>some</b>, encoder <b>tiny</b>",
    ]
    titles = [f.get_suptitle() for f in app.figures]
    assert all("UNTRAINED WEIGHTS" in t for t in titles) and titles[0].endswith("all: tiny")
    marked = [ax.get_title() for ax in app.figures[1].axes if ax.get_title().endswith("in both")]
    assert len(marked) == len(app.shared)
    assert f"{len(app.shared)} image(s) in both" in app.message.value


def test_bad_choices_give_a_message_in_the_view(uri):
    app = CompareApp(uri)
    app.search_button.click()
    assert "Choose a query image first" in app.message.value and app.results is None
    app.pick.index = 1
    picked = app.query
    app.right.value = "all"
    app.search_button.click()
    assert "choose two different collections" in app.message.value
    assert all(o.outputs == () for o in app.outputs) and not app.search_button.disabled
    app.right.value = NO_COLLECTION
    app.search_button.click()
    assert "Choose a collection on each side" in app.message.value
    app.upload.value = ({"name": "notes.txt", "type": "text/plain", "size": 5, "content": memoryview(b"hello"),
                         "last_modified": datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)},)  # fmt: skip
    assert "notes.txt" in app.message.value and "Traceback" not in app.message.value
    assert app.query == picked  # the query stays as it was
