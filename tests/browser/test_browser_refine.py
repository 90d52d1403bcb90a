"""``mmrag app`` in Chromium, a feedback round as a person does it: pick a query, Search, mark one hit
"unlike", press Refine, and see the grid change and name the round. Also keywords typed alone."""

from __future__ import annotations

import re

import jlab
import pytest
from appserver import AppServer, collection_args

from mmrag_lab.config import Config
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.workbench.runtime.sample import sample_metadata

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]
LOAD_MS = 120_000


@pytest.fixture(scope="module")
def app(tmp_path_factory, sample_dir, tiny_encoder, artifacts_dir):
    root = tmp_path_factory.mktemp("refine-db")
    config = Config.load(env={}, milvus_uri=str(root / "app.db"), collection="all", encoder="tiny",
                         weights="untrained", device="cpu", cache_dir=str(root / "cache"))  # fmt: skip
    ingest(sample_dir, config=config, encoder=tiny_encoder, metadata=sample_metadata(), progress=False,
           options=IngestOptions(workers=0), text_fields="title")  # fmt: skip
    log = artifacts_dir / "mmrag-app-refine.log"
    log.unlink(missing_ok=True)
    with AppServer(collection_args(root / "app.db", "all"), log) as server:
        yield server


@pytest.fixture
def page(chromium, app):
    context = chromium.new_context(viewport={"width": 1100, "height": 1400})
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.goto(app.url, wait_until="commit")
    jlab.button(page, "Search").wait_for(timeout=LOAD_MS)
    yield page
    context.close()


def _hits(page) -> list[str]:
    text = page.locator(".widget-html-content").filter(has_text=re.compile(r"^\s*Hits:")).inner_text()
    return re.findall(r"\d+\. (\S+)", text)


def _grid_changed(page, before: bytes) -> bool:
    return page.locator(".widget-output img").first.get_attribute("src").encode() != before


def test_unlike_one_hit_then_refine_changes_the_grid(page, artifacts_dir):
    from playwright.sync_api import expect

    options = page.locator(".widget-dropdown").filter(has=page.locator(".widget-label", has_text="or pick"))
    jlab.choose_option(page, "or pick", options.first.locator("select option").all_inner_texts()[4])
    jlab.click_button(page, "Search")
    expect(page.locator(".widget-output img")).to_have_count(1, timeout=60_000)
    before, grid = _hits(page), page.locator(".widget-output img").first.get_attribute("src").encode()
    assert len(before) == 9
    row = page.locator(".widget-toggle-buttons").filter(
        has=page.locator(".widget-label", has_text=f"2. {before[1]}")
    )
    row.locator("button", has_text="unlike").click()
    jlab.click_button(page, "Refine")
    page.get_by_text(re.compile(r"Round 1: 9 hit\(s\)")).wait_for(timeout=60_000)
    after = _hits(page)
    assert before[1] not in after and after != before and _grid_changed(page, grid)
    assert page.get_by_text(re.compile(rf"Round 1.*unliked {re.escape(before[1])}")).count() >= 1
    assert "Traceback" not in page.content()
    jlab.screenshot(page, artifacts_dir, "app-refine")


def test_keywords_alone_give_a_grid_of_matching_titles(page):
    from playwright.sync_api import expect

    jlab.fill_text(page, "Keywords", "sleeveless")
    jlab.click_button(page, "Search")
    expect(page.locator(".widget-output img")).to_have_count(1, timeout=60_000)
    assert 1 <= len(_hits(page)) < 9 and "the keywords" in page.content()
