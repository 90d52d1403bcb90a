"""The search/rerank app, driven headless: set widget values, click buttons, read what the app shows."""

from __future__ import annotations

import base64
import datetime
import io

import pytest
from openai_stub import OpenAIStub
from PIL import Image

from mmrag_lab.config import Config
from mmrag_lab.errors import QueryError
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.store.vector_store import Store
from mmrag_lab.store.where import parse_where
from mmrag_lab.workbench.runtime.sample import sample_metadata
from mmrag_lab.workbench.widgets.search_app import NO_PICK, SearchApp
from mmrag_lab.workbench.widgets.search_backend import (
    AppBackend,
    choices,
    folder_choices,
    folder_images,
    parse_filter,
)


@pytest.fixture(scope="module")
def collection(tmp_path_factory, sample_dir, tiny_encoder) -> Config:
    """The bundled sample ingested into a Milvus Lite file with the tiny untrained encoder."""
    root = tmp_path_factory.mktemp("app")
    config = Config.load(env={}, milvus_uri=str(root / "app.db"), collection="app", encoder="tiny",
                         weights="untrained", device="cpu", cache_dir=str(root / "cache"))  # fmt: skip
    report = ingest(sample_dir, config=config, encoder=tiny_encoder, metadata=sample_metadata(),
                    progress=False, options=IngestOptions(workers=0))  # fmt: skip
    assert report.ingested == 40
    return config


@pytest.fixture(autouse=True)
def no_llm_env(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def _shown_png(app: SearchApp) -> bytes:
    assert len(app.output.outputs) == 1
    return base64.b64decode(app.output.outputs[0]["data"]["image/png"])


def _assert_message_only(app: SearchApp, *fragments: str) -> None:
    assert app.output.outputs == ()
    for fragment in fragments:
        assert fragment in app.message.value
    assert "Traceback" not in app.message.value
    assert not app.search_button.disabled


def _upload(data: bytes, name: str = "query.jpg") -> tuple[dict, ...]:
    when = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    return ({"name": name, "type": "image/jpeg", "size": len(data), "content": memoryview(data),
             "last_modified": when},)  # fmt: skip


def test_search_button_draws_the_grid_of_k_hits(collection):
    app = SearchApp(collection)
    assert len(app.pick.options) == 41  # the placeholder and the 40 stored images
    app.pick.index = 5
    app.instruction.value = "the same but in red"
    app.k.value = 6
    app.search_button.click()
    assert len(app.results) == 6
    assert [hit.rank for hit in app.results] == [1, 2, 3, 4, 5, 6]
    png = Image.open(io.BytesIO(_shown_png(app)))
    assert png.width > 600 and png.height > 300
    assert sum(len(ax.images) for ax in app.figure.get_axes()) == 7  # the query and six hits
    assert "UNTRAINED WEIGHTS" in app.figure.get_suptitle()
    assert "6 hit(s)" in app.message.value
    assert not app.search_button.disabled and not app.rerank_button.disabled


def test_filter_box_accepts_keyword_filters(collection):
    app = SearchApp(collection)
    app.pick.index = 1
    app.filter.value = "category=hat"
    app.search_button.click()
    assert app.results and {hit.meta["category"] for hit in app.results} == {"hat"}


def test_rerank_without_endpoint_keeps_order_and_says_how_to_configure(collection):
    app = SearchApp(collection, k=5)
    app.pick.index = 3
    app.search_button.click()
    app.rerank_button.click()
    assert app.reranked.order == [0, 1, 2, 3, 4]
    assert "OPENAI_API_KEY" in app.message.value and app.message.value.count("OPENAI_API_KEY") == 1
    assert app.explanation.value == ""  # the reason is said once, in the message
    assert "retrieval order kept" in app.figure.subfigs[2].get_suptitle()
    assert _shown_png(app)


def test_rerank_with_endpoint_shows_the_new_order_and_the_explanation(collection):
    with OpenAIStub(ranking=[2, 0, 1, 4, 3]) as stub:
        config = collection.with_overrides(llm_base_url=stub.base_url, llm_model="stub-model")
        app = SearchApp(config, k=5, instruction="in red")
        app.pick.index = 2
        app.search_button.click()
        app.rerank_button.click()
        assert len(stub.requests) == 1 and stub.requests[0].image_urls
    assert app.reranked.fallback_reason is None
    assert app.reranked.order == [2, 0, 1, 4, 3]
    assert "#3, #1, #2, #5, #4" in app.explanation.value
    titles = [ax.get_title() for ax in app.figure.subfigs[2].get_axes()]
    assert titles[0].startswith("#1 ▲2 (was #3)")
    assert _shown_png(app)


def test_uploaded_image_is_the_query(collection, sample_dir):
    app = SearchApp(collection, k=3)
    app.upload.value = _upload(next(sample_dir.rglob("*.jpg")).read_bytes())
    app.search_button.click()
    assert len(app.results) == 3
    assert isinstance(app.query, Image.Image)


def test_no_image_shows_a_message(collection):
    app = SearchApp(collection)
    assert app.pick.value == NO_PICK
    app.search_button.click()
    assert app.results is None
    _assert_message_only(app, "Choose a query image")
    assert app.rerank_button.disabled


def test_unreadable_upload_shows_a_message_and_does_not_stick(collection):
    app = SearchApp(collection, k=3)
    app.pick.index = 2
    app.upload.value = _upload(b"this is not a picture", "holiday.jpg")
    _assert_message_only(app, "holiday.jpg", "not a recognised image format", "stays as it was")
    assert app.upload.value == () and app.query == app.pick.value
    app.search_button.click()
    assert len(app.results) == 3 and app.pick.label in app.message.value


def test_the_query_is_the_last_choice_and_is_named(collection, sample_dir):
    app = SearchApp(collection, k=3)
    assert "none yet" in app.query_label.value and app.clear_upload.disabled
    app.pick.index = 4
    assert app.pick.label in app.query_label.value and app.pick.tooltip == app.pick.value
    app.upload.value = _upload(next(sample_dir.rglob("*.jpg")).read_bytes(), "mine.jpg")
    assert "mine.jpg (uploaded)" in app.query_label.value and app.pick.value == NO_PICK
    assert not app.clear_upload.disabled
    app.search_button.click()
    assert isinstance(app.query, Image.Image) and "mine.jpg (uploaded)" in app.message.value
    app.pick.index = 5
    assert app.upload.value == () and app.query == app.pick.value
    app.search_button.click()
    assert app.pick.label in app.message.value
    app.upload.value = _upload(next(sample_dir.rglob("*.jpg")).read_bytes(), "mine.jpg")
    app.clear_upload.click()
    assert app.query is None and app.upload.value == () and app.clear_upload.disabled


def test_a_failed_search_clears_the_old_grid_and_disables_rerank(collection):
    app = SearchApp(collection, k=3)
    app.pick.index = 1
    app.search_button.click()
    assert app.output.outputs and not app.rerank_button.disabled
    app.filter.value = 'meta["category"] =='
    app.search_button.click()
    assert app.results is None and app.output.outputs == () and app.figure is None
    assert app.rerank_button.disabled and "#c62828" in app.message.value


def test_an_empty_instruction_is_said_plainly(collection):
    app = SearchApp(collection, k=3, instruction="  ")
    app.pick.index = 1
    app.search_button.click()
    assert "composed" not in app.figure.get_suptitle() and "no instruction" in app.figure.get_suptitle()
    assert "image alone" in app.message.value


def test_pick_list_shows_titles_with_the_path_as_value(collection, sample_dir):
    labels = [label for label, _ in app_options(SearchApp(collection))]
    assert "Short-sleeved patterned dress" in labels
    assert all("/" not in label for label in labels[1:])
    values = [value for _, value in folder_choices(sample_dir)]
    assert len(values) == 40 and all(v.startswith(str(sample_dir)) for v in values)
    assert choices([("/a/x.jpg", None), ("/b/x.jpg", None), ("/c/y.jpg", "A title")]) == [
        ("A title", "/c/y.jpg"), ("x.jpg (a/x.jpg)", "/a/x.jpg"), ("x.jpg (b/x.jpg)", "/b/x.jpg"),
    ]  # fmt: skip


def app_options(app: SearchApp) -> list[tuple[str, str]]:
    return [tuple(option) for option in app.pick.options]


def test_rerank_before_search_shows_a_message(collection):
    app = SearchApp(collection)
    app.rerank()
    _assert_message_only(app, "Search first")


def test_empty_collection_shows_a_message(tmp_path, collection, tiny_encoder, sample_dir):
    config = collection.with_overrides(milvus_uri=str(tmp_path / "empty.db"), collection="empty")
    with Store.open(config) as store:
        store.ensure_collection(tiny_encoder.info)
    app = SearchApp(config, images_dir=sample_dir)
    app.pick.index = 1
    app.search_button.click()
    _assert_message_only(app, "is empty", "Ingest images first")


def test_missing_collection_shows_a_message(tmp_path, collection, sample_dir):
    config = collection.with_overrides(milvus_uri=str(tmp_path / "none.db"), collection="nothing_here")
    app = SearchApp(config, images_dir=sample_dir)
    app.pick.index = 1
    app.search_button.click()
    _assert_message_only(app, "no collection 'nothing_here'")


def test_buttons_are_disabled_while_work_runs(collection):
    seen = []

    class Watching(AppBackend):
        def search(self, *args, **kwargs):
            seen.append(
                (app.search_button.disabled, app.rerank_button.disabled, app.progress.layout.visibility)
            )
            return super().search(*args, **kwargs)

    app = SearchApp(collection, backend=Watching(collection))
    app.pick.index = 1
    app.search_button.click()
    assert seen == [(True, True, "visible")]
    assert not app.search_button.disabled and app.progress.layout.visibility == "hidden"


def test_an_unexpected_failure_is_a_message_not_a_traceback(collection, tmp_path, monkeypatch):
    class Broken(AppBackend):
        def search(self, *args, **kwargs):
            raise RuntimeError("disk on fire")

    monkeypatch.setenv("MMRAG_LOG_DIR", str(tmp_path / "logs"))
    app = SearchApp(collection, backend=Broken(collection))
    app.pick.index = 1
    app.search_button.click()
    _assert_message_only(app, "Searching failed", "unexpected error", "RuntimeError: disk on fire")
    (log,) = (tmp_path / "logs").iterdir()  # the traceback is in the file the message names
    assert str(log) in app.message.value and "disk on fire" in log.read_text()


def test_parse_filter_splits_keyword_filters_from_raw_expressions():
    assert parse_filter("") == (None, None)
    assert parse_filter("category=dress, min_width=300") == ({"category": "dress", "min_width": 300}, None)
    assert parse_filter('category="a b"') == ({"category": "a b"}, None)
    raw = 'meta["category"] == "dress"'
    assert parse_filter(raw) == (None, raw)


def test_folder_images_lists_pictures_only(tmp_path, sample_dir):
    assert len(folder_images(sample_dir)) == 40
    (tmp_path / "notes.txt").write_text("x")
    Image.new("RGB", (4, 4)).save(tmp_path / "a.png")
    assert folder_images(tmp_path) == [str(tmp_path / "a.png")]


def test_folder_images_skip_hidden_folders_and_files(tmp_path):
    for rel in ("a.png", ".ipynb_checkpoints/a-checkpoint.png", "shoes/.b.png", "shoes/c.png"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (4, 4)).save(tmp_path / rel)
    assert folder_images(tmp_path) == [str(tmp_path / "a.png"), str(tmp_path / "shoes" / "c.png")]


def test_the_filter_box_reads_pairs_as_mmrag_search_where_does():
    text = "category=dress, category='hat', min_width = 300, year=2021"
    where, raw = parse_filter(text)
    assert raw is None and where == parse_where(
        ["category=dress", "category='hat'", "min_width=300", "year=2021"]
    )
    assert where == {"category": ["dress", "hat"], "min_width": 300, "year": "2021"}
    with pytest.raises(QueryError, match="whole number"):
        parse_filter("min_width=wide")


def test_the_query_image_is_not_among_its_own_hits(collection):
    app = SearchApp(collection)
    picked = app.pick.options[3][1]  # (title, path)
    app.pick.value = picked
    app.k.value = 9
    app.search_button.click()
    assert len(app.results) == 9 and picked not in app.results.paths
    with open(picked, "rb") as handle:
        app.upload.value = _upload(handle.read())  # the same bytes, uploaded: matched by content hash
    app.search_button.click()
    assert len(app.results) == 9 and picked not in app.results.paths
