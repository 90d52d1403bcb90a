"""``mmrag app`` in Chromium, used as a visitor would: the Voilà page, no code, Search, upload, Rerank against a
local OpenAI-protocol server, bad input, two visitors at once, and the limits (kernel cap, idle culling).
Tiny untrained encoder on the CPU; the collection is the bundled sample in a Milvus Lite file."""

from __future__ import annotations

import io
import os
import re
import shutil
import time
from pathlib import Path

import jlab
import numpy as np
import pytest
from appserver import REPO, AppServer, collection_args
from openai_stub import OpenAIStub
from PIL import Image

from mmrag_lab.config import Config
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.workbench.runtime.sample import sample_metadata
from mmrag_lab.workbench.serving.app_server import APP_NOTEBOOK

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]
LOAD_MS = 120_000
# the screenshots go where the notebook browser tests put their figures
FIGURES = Path(os.environ.get("MMRAG_BROWSER_FIGURES", REPO / "runs" / "browser-figures"))


@pytest.fixture(scope="module")
def lite_db(tmp_path_factory, sample_dir, tiny_encoder):
    """Two collections in one Lite file: ``all`` (40 images, with metadata) and ``some`` (the dresses)."""
    root = tmp_path_factory.mktemp("app-db")
    config = Config.load(env={}, milvus_uri=str(root / "app.db"), encoder="tiny", weights="untrained",
                         device="cpu", cache_dir=str(root / "cache"))  # fmt: skip
    done = ingest(sample_dir, config=config.with_overrides(collection="all"), encoder=tiny_encoder,
                  metadata=sample_metadata(), progress=False, options=IngestOptions(workers=0))  # fmt: skip
    ingest(sample_dir / "dress", config=config.with_overrides(collection="some"), encoder=tiny_encoder,
           progress=False, options=IngestOptions(workers=0))  # fmt: skip
    assert done.ingested == 40
    return root / "app.db"


@pytest.fixture(scope="module")
def stub():
    with OpenAIStub() as server:
        yield server


@pytest.fixture(scope="module")
def app(lite_db, stub, artifacts_dir):
    before = APP_NOTEBOOK.read_bytes()
    log = artifacts_dir / "mmrag-app.log"
    log.unlink(missing_ok=True)
    env = {"OPENAI_BASE_URL": stub.base_url, "OPENAI_API_KEY": "sk-app-test-key"}
    with AppServer([*collection_args(lite_db, "all"), "--max-upload-mb", "1"], log, env) as server:
        yield server
    assert APP_NOTEBOOK.read_bytes() == before, "serving the page changed notebooks/app.ipynb"
    assert not list(APP_NOTEBOOK.parent.glob("*.nbconvert.ipynb"))


@pytest.fixture
def new_page(chromium):
    contexts = []

    def make():
        context = chromium.new_context(viewport={"width": 1100, "height": 900})
        context.set_default_timeout(60_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def _open(page, url: str, wait: bool = True):
    page.goto(url, wait_until="commit")
    if wait:
        jlab.button(page, "Search").wait_for(timeout=LOAD_MS)
    return page


def _message(page) -> str:
    return (
        page.locator(".widget-html-content").filter(has=page.locator("span[style*=color]")).first.inner_text()
    )


def _hits(page) -> list[str]:
    text = (
        page.locator(".widget-html-content").filter(has_text=re.compile(r"^\s*(Hits|Reranked):")).inner_text()
    )
    return re.findall(r"\d+\. (\S+)", text)


def _search(page, query: str | None = None, expect_grid: bool = True) -> None:
    from playwright.sync_api import expect

    if query is not None:
        jlab.choose_option(page, "or pick", query)
    jlab.click_button(page, "Search")
    if expect_grid:
        expect(page.locator(".widget-output img")).to_have_count(1, timeout=60_000)


def _picks(page) -> list[str]:
    options = page.locator(".widget-dropdown").filter(has=page.locator(".widget-label", has_text="or pick"))
    return [t.replace("\xa0", " ") for t in options.first.locator("select option").all_inner_texts()]


def test_the_page_shows_no_code_and_pick_then_search_gives_a_grid(app, new_page):
    from playwright.sync_api import expect

    page = _open(new_page(), app.url)
    html = page.content()
    assert page.locator(".jp-InputArea, .jp-InputPrompt, .cm-editor, .CodeMirror").count() == 0
    assert "app_page" not in html and "install_in_colab" not in html and "Traceback" not in html
    tabs = page.locator(".lm-TabBar-tab, .p-TabBar-tab")
    expect(tabs.filter(has_text=re.compile(r"^\s*Compare\s*$"))).to_have_count(
        1
    )  # two collections on the URI
    picks = _picks(page)
    assert len(picks) == 41  # "(choose an image)" and the 40 stored images
    _search(page, picks[5])
    assert len(_hits(page)) == 9 and "9 hit(s)" in _message(page)
    assert jlab.screenshot(page, FIGURES, "app-search") is not None


def test_upload_then_search_leaves_the_uploaded_image_out(app, new_page, sample_dir, tmp_path):
    page = _open(new_page(), app.url)
    original = sorted((sample_dir / "dress").glob("*.jpg"))[0]
    upload = tmp_path / "my-query.jpg"
    shutil.copy(original, upload)  # the same bytes as a stored image, under another name
    jlab.upload_files(page, upload)
    page.get_by_text("my-query.jpg (uploaded)").wait_for()
    _search(page)
    hits = _hits(page)
    assert len(hits) == 9 and original.name not in hits
    assert "for my-query.jpg (uploaded)" in _message(page)


def test_rerank_against_the_local_openai_server_gives_the_reranked_grid_and_why(
    app, new_page, stub, artifacts_dir
):
    from playwright.sync_api import expect

    page = _open(new_page(), app.url)
    jlab.fill_text(page, "Instruction", "the same, but in red")
    _search(page, _picks(page)[3])
    before = _hits(page)
    asked = len(stub.requests)
    jlab.click_button(page, "Rerank")
    expect(page.locator(".widget-html-content").filter(has_text="New order")).to_have_count(1, timeout=60_000)
    expect(page.locator(".widget-output img")).to_have_count(1)
    assert len(stub.requests) == asked + 1 and "the same, but in red" in stub.requests[-1].text
    assert _hits(page) == before[::-1]  # the stub ranks the candidates in reverse
    assert "Reranked by" in _message(page)
    assert "sk-app-test-key" not in page.content()  # the key stays on the server
    page.evaluate("window.scrollTo(0, 0)")
    FIGURES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(FIGURES / "app-rerank.png"))  # the first screen, as the README shows it


def test_a_bad_upload_and_a_bad_filter_give_messages(app, new_page, tmp_path):
    page = _open(new_page(), app.url)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is not a picture")
    jlab.upload_files(page, broken)
    page.get_by_text(re.compile("broken.jpg.*The query stays as it was")).first.wait_for()
    big = tmp_path / "big.jpg"
    noise = np.random.default_rng(0).integers(0, 255, (1400, 1400, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, "JPEG", quality=95)
    big.write_bytes(buffer.getvalue())
    assert big.stat().st_size > 1024 * 1024
    jlab.upload_files(page, big)
    page.get_by_text(re.compile("more than this app accepts \\(1 MB")).first.wait_for()
    assert "none yet" in page.get_by_text("Query image:").first.inner_text()

    jlab.fill_text(page, "Filter", "min_width=wide")
    _search(page, _picks(page)[2], expect_grid=False)
    page.locator("span[style*=color]").filter(has_text="min_width").first.wait_for()
    assert page.locator(".widget-output img").count() == 0
    assert "Traceback" not in page.content()


def test_two_visitors_at_once_both_get_grids(app, new_page):
    first, second = new_page(), new_page()
    _open(first, app.url, wait=False)
    _open(second, app.url, wait=False)
    for page in (first, second):
        jlab.button(page, "Search").wait_for(timeout=LOAD_MS)
    for page in (first, second):
        jlab.choose_option(page, "or pick", _picks(page)[7])
        jlab.click_button(page, "Search")
    for page in (first, second):
        page.locator(".widget-output img").wait_for(timeout=60_000)
        assert len(_hits(page)) == 9


def test_limits_cap_the_kernels_and_cull_an_idle_one_and_a_missing_collection_is_a_notice(
    lite_db, new_page, artifacts_dir
):
    log = artifacts_dir / "mmrag-app-limits.log"
    log.unlink(missing_ok=True)
    args = [*collection_args(lite_db, "nothing_here"), "--max-kernels", "1", "--idle-timeout", "4"]
    with AppServer(args, log) as app:
        first = new_page()
        first.goto(app.url, wait_until="commit")
        first.get_by_text("No collection to search yet").wait_for(timeout=LOAD_MS)
        assert "mmrag ingest IMAGES_DIR --collection nothing_here" in first.content()
        assert "Traceback" not in first.content()
        second = new_page()
        reply = second.goto(app.url)
        assert reply.status == 503 and "The app is full" in second.content()
        assert "serves 1 visitor(s) at once. Try again in a few minutes." in second.content()
        assert "the cap (MMRAG_APP_MAX_KERNELS)" in app.log()
        deadline = time.monotonic() + 40  # the first visitor's kernel idles 4 s, then goes
        while "Culling 'idle' kernel" not in app.log() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert "Culling 'idle' kernel" in app.log()
        while second.goto(app.url).status == 503 and time.monotonic() < deadline:  # until its shutdown ends
            time.sleep(1)
        second.get_by_text("No collection to search yet").wait_for(timeout=LOAD_MS)
