"""The app's text boxes and upload, given a generated corpus of hostile values: each ends in a grid or in a
message that names the problem, never in a traceback, and the collection is never changed.

The app is driven headless, as tests/workbench/widgets/test_search_app.py does (the browser test drives the same widgets
in Chromium): set a widget's value, click Search, read what the app shows.
"""

from __future__ import annotations

import datetime
import itertools
import re

import pytest
from badimages import encoded, photo
from PIL import Image

from mmrag_lab.config import Config
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.store.vector_store import Store
from mmrag_lab.workbench.widgets.search_app import SearchApp

INLINE = IngestOptions(workers=0)  # decode in this process, no worker processes

TRACEBACK = "Traceback (most recent call last)"
MAX_UPLOAD_MB = 0.05  # 50 kB, so that an oversized upload is cheap to make

# Instructions: sizes around the limit, control and markup characters, other scripts.
INSTRUCTIONS = {
    "empty": "",
    "blanks": " \t \n ",
    "at the limit": "blue " * 2_000,
    "over the limit": "x" * 50_000,
    "control characters": "make it \x00\x07\x1b[31m red",
    "markup": "<script>alert(1)</script> & </div>",
    "quotes": 'it\'s "blue" \\ and ` back',
    "right to left": "\u202eeulb ti ekam",
    "other scripts": "青いドレス " * 50,
    "emoji": "🧥" * 300,
}
# Filters: broken syntax, quotes, wildcards and escapes, injection attempts, unknown keys, huge values.
FILTER_PARTS = ['meta["category"] == "dress"', "path_contains=dress", 'meta["x"] ==', "((", "1/0",
                "path_prefix=/nowhere", "path_contains=back\\slash", 'meta["category"] == "a" or 1 == 1',
                "'; drop collection app; --", "category=", "=dress", "id in [", "unknown_key=1"]  # fmt: skip
FILTERS = {
    **{f"one: {part}": part for part in FILTER_PARTS},
    **{f"two: {a} & {b}": f"{a} {b}" for a, b in itertools.combinations(FILTER_PARTS[:6], 2)},
    "huge": "path_contains=" + "a" * 100_000,
    "quote soup": "\"'" * 500,
}


def _uploads() -> dict[str, tuple[str, bytes, str]]:
    """name -> (file name, bytes, fragment the message must hold, or "" for an accepted upload)."""
    jpeg = encoded(photo(seed=3), "JPEG")
    big = encoded(photo(400, 300, seed=4), "PNG")
    assert len(big) > MAX_UPLOAD_MB * 1_000_000
    return {
        "jpeg": ("fine.jpg", jpeg, ""),
        "one pixel": ("dot.png", encoded(Image.new("RGB", (1, 1), (9, 9, 9)), "PNG"), ""),
        "gif": ("anim.gif", encoded(photo(seed=5).convert("P"), "GIF"), ""),
        "empty": ("zero.jpg", b"", "zero.jpg"),
        "text": ("notes.jpg", b"not a picture\n" * 40, "notes.jpg"),
        "truncated": ("cut.jpg", jpeg[: len(jpeg) // 3], "cut.jpg"),
        "bomb": ("bomb.png", encoded(Image.new("1", (10_000, 9_000)), "PNG"), "bomb.png"),
        "over the size limit": ("big.png", big, "big.png"),
        "text named png": ("x.png", b"\x89PNG but not really", "x.png"),
    }


UPLOADS = _uploads()


@pytest.fixture(scope="module")
def collection(tmp_path_factory, sample_dir, tiny_encoder) -> Config:
    root = tmp_path_factory.mktemp("app_inputs")
    config = Config.load(env={}, milvus_uri=str(root / "app.db"), collection="app", encoder="tiny",
                         weights="untrained", device="cpu", cache_dir=str(root / "cache"),
                         app_max_upload_mb=MAX_UPLOAD_MB)  # fmt: skip
    ingest(sample_dir / "dress", config=config, encoder=tiny_encoder, progress=False, options=INLINE)
    return config


@pytest.fixture(scope="module")
def app(collection) -> SearchApp:
    return SearchApp(collection, k=3)


@pytest.fixture(scope="module")
def stored(collection) -> dict:
    return _snapshot(collection)


@pytest.fixture(autouse=True)
def unchanged(request, collection, stored):
    yield
    if "collection" in request.fixturenames:
        assert _snapshot(collection) == stored  # nothing the app was given changed a row


def _snapshot(config: Config) -> dict:
    with Store.open(config) as store:
        rows = list(store.iterate(("path", "content_hash", "meta")))
    return {"count": len(rows), "rows": sorted((r["path"], r["content_hash"], str(r["meta"])) for r in rows)}


def _upload(name: str, data: bytes) -> tuple[dict, ...]:
    when = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    return ({"name": name, "type": "image/jpeg", "size": len(data), "content": memoryview(data),
             "last_modified": when},)  # fmt: skip


def _shown(app: SearchApp) -> str:
    return app.message.value + app.status.value + app.hit_names.value + app.explanation.value


def _search(app: SearchApp) -> None:
    app.pick.index = 1
    app.search_button.click()
    assert TRACEBACK not in _shown(app)
    assert not app.search_button.disabled  # the app is ready for the next try


@pytest.mark.parametrize("instruction", INSTRUCTIONS.values(), ids=INSTRUCTIONS.keys())
def test_an_instruction_gives_a_grid_or_names_the_limit(app, collection, instruction):
    app.instruction.value, app.filter.value = instruction, ""
    _search(app)
    if len(instruction) > 10_000:
        assert app.results is None and app.output.outputs == ()
        assert "10,000" in app.message.value  # the limit, named
    else:
        assert app.results is not None and len(app.results) == 3 and len(app.output.outputs) == 1


@pytest.mark.parametrize("text", FILTERS.values(), ids=FILTERS.keys())
def test_a_filter_gives_a_grid_or_a_message(app, collection, text):
    app.instruction.value, app.filter.value = "", text
    _search(app)
    if app.results is None:
        assert app.output.outputs == () and "#c62828" in app.message.value  # refused in red, no stale grid
        assert re.search(r"at column \d+|filter key", app.message.value)  # where the filter is wrong
    else:
        assert len(app.results) <= 3 and len(app.output.outputs) == 1


@pytest.mark.parametrize("key", UPLOADS, ids=UPLOADS.keys())
def test_an_upload_is_the_query_or_is_refused_by_name(app, collection, key):
    name, data, fragment = UPLOADS[key]
    app.instruction.value = app.filter.value = ""
    app.pick.index = 1
    before = app.query
    app.upload.value = _upload(name, data)
    assert TRACEBACK not in _shown(app)
    if fragment:
        assert fragment in app.message.value and "stays as it was" in app.message.value
        assert app.query == before and app.upload.value == ()  # refused: the last query stays
    else:
        assert isinstance(app.query, Image.Image) and name in app.query_name
        app.search_button.click()
        assert app.results is not None and len(app.output.outputs) == 1
