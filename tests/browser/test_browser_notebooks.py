"""The repo's notebooks in the real JupyterLab, in one page, as a researcher meets them at 1100 px wide.

01_ingest runs and its kernel stays alive while 02_search runs in a second kernel on the same default
``./mmrag_lab.db`` (one local Lite server shares it). Then 02's app is used by hand: pick, upload, pick
again, a non-image upload, a bad filter. 03_rerank runs against the local OpenAI-protocol stub, and its app
reranks. 04_inspect runs last. Tiny untrained encoder on the CPU. The figures are saved as the page shows
them into ``runs/browser-figures/`` so that a person can check that their text is readable.
"""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import jlab
import pytest
from openai_stub import OpenAIStub

from mmrag_lab.workbench.runtime.sample import sample_dir, sample_metadata

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(420)]

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = Path(os.environ.get("MMRAG_NOTEBOOKS", REPO / "notebooks"))
FIGURES = Path(os.environ.get("MMRAG_BROWSER_FIGURES", REPO / "runs" / "browser-figures"))
WIDTH = 1100
TIMINGS: dict[str, float] = {}
NB1, NB2, NB3, NB4 = "01_ingest.ipynb", "02_search.ipynb", "03_rerank.ipynb", "04_inspect.ipynb"


def titles() -> dict[str, str]:
    """Sample file name -> metadata title (what the pick list shows)."""
    with open(sample_metadata(), newline="") as f:
        return {row["file"]: row["title"] for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def stub():
    with OpenAIStub(default="good") as server:
        yield server


@pytest.fixture(scope="module")
def jupyterlab(artifacts_dir, stub, tmp_path_factory):
    """Overrides conftest's server: the project's settings for a fast, offline CPU run."""
    if not NOTEBOOKS.is_dir():
        pytest.skip(f"no notebooks at {NOTEBOOKS}")
    env = {
        "MMRAG_ENCODER": "tiny", "MMRAG_WEIGHTS": "untrained", "MMRAG_DEVICE": "cpu",
        "MMRAG_MILVUS_URI": None, "MMRAG_COLLECTION": None, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1",
        "MMRAG_CACHE_DIR": str(tmp_path_factory.mktemp("cache")),  # no reply cached by an earlier run
        "OPENAI_BASE_URL": stub.base_url, "OPENAI_API_KEY": "browser-test", "MMRAG_LLM_MODEL": "stub-model",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }  # fmt: skip
    with jlab.JupyterLab(NOTEBOOKS, env=env, log_path=artifacts_dir / "jupyterlab-notebooks.log") as lab:
        TIMINGS["server start"] = lab.startup_seconds
        try:
            yield lab
        finally:
            from mmrag_lab.store.lite_discovery import stop_server

            stop_server(str(lab.root / "mmrag_lab.db"))
    print("\n[timings] " + ", ".join(f"{k}={v:.1f}s" for k, v in TIMINGS.items()))


@pytest.fixture(scope="module")
def page(chromium, jupyterlab):
    context = chromium.new_context(viewport={"width": WIDTH, "height": 900})
    context.set_default_timeout(30_000)
    yield context.new_page()
    context.close()


@pytest.fixture(autouse=True)
def _artifacts_on_failure(request, page, jupyterlab, artifacts_dir):
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is None or rep.failed:
        shot = jlab.screenshot(page, artifacts_dir, request.node.name)
        print(f"\n[browser] failure screenshot: {shot}")


def run_clean(lab, page, name: str) -> list[dict]:
    t0 = time.monotonic()
    jlab.open_notebook(lab, page, name, timeout=120)
    before = jlab.run_all_cells(page, name)
    jlab.wait_until_done(lab, page, name, before, timeout=240)
    TIMINGS[name[:2]] = time.monotonic() - t0
    cells = jlab.read_outputs(page, name)
    errs = jlab.errors(cells)
    assert not errs, "\n".join(f"cell {e['cell']}: {e['ename']}: {e['evalue'][:300]}" for e in errs)
    assert all(c["execution_count"] for c in cells if c["cell_type"] == "code"), "code cells never ran"
    return cells


def save_figures(page, name: str, cells: list[dict]) -> None:
    """Each figure as the page shows it at WIDTH px, into FIGURES."""
    FIGURES.mkdir(parents=True, exist_ok=True)
    for c in cells:
        if any(o["has_png"] for o in c["outputs"]):
            img = jlab.cell(page, name, c["index"]).locator(".jp-OutputArea-output img").first
            img.scroll_into_view_if_needed()
            img.screenshot(path=str(FIGURES / f"{name[:-6]}-cell{c['index']:02d}.png"))


def app_of(page, name: str, cells: list[dict]):
    return jlab.cell(page, name, cells[-1]["index"])  # the last cell shows the SearchApp


def message(app):
    return app.locator(".widget-html-content").filter(has_text="hit(s) for")


def test_01_ingest_keeps_its_kernel_and_counts_match(page, jupyterlab):
    cells = run_clean(jupyterlab, page, NB1)
    text = jlab.all_text(cells)
    assert "40 ingested" in text or "ingested 40" in text, text[:2000]
    banner = jlab.cell(page, NB1, 4).locator(".jp-RenderedMarkdown")
    from playwright.sync_api import expect

    expect(banner).to_contain_text("UNTRAINED WEIGHTS")
    assert "`" not in banner.inner_text()
    expect(jlab.cell(page, NB1, 6)).to_contain_text("stored=40")  # the bar's last count is the summary's
    save_figures(page, NB1, cells)


def test_02_search_runs_beside_01_and_the_app_follows_the_last_choice(page, jupyterlab, tmp_path):
    from playwright.sync_api import expect

    cells = run_clean(jupyterlab, page, NB2)
    assert jlab.errors(jlab.read_outputs(page, NB1)) == []
    assert jupyterlab.kernels() and len(jupyterlab.kernels()) == 2, "01's kernel must still be alive"
    save_figures(page, NB2, cells)

    t0 = time.monotonic()
    app = app_of(page, NB2, cells)
    named = titles()
    first, second = sorted(named.items())[:2]
    grid = app.locator(".widget-output img")

    jlab.choose_option(app, "or pick", first[1])  # pick + Search
    expect(app).to_contain_text(f"Query image: {first[1]}")
    jlab.click_button(app, "Search")
    expect(message(app)).to_contain_text(f"9 hit(s) for {first[1]}.", timeout=60_000)
    expect(grid).to_be_visible()
    expect(jlab.button(app, "Rerank")).to_be_enabled()

    upload = sample_dir() / "images" / second[0]  # upload + Search
    upload = upload if upload.exists() else next(sample_dir().rglob(second[0]))
    jlab.upload_files(app, upload, description="Upload query")
    expect(app).to_contain_text(f"Query image: {second[0]} (uploaded)")
    jlab.click_button(app, "Search")
    expect(message(app)).to_contain_text(f"hit(s) for {second[0]} (uploaded).", timeout=60_000)

    jlab.choose_option(app, "or pick", second[1])  # pick again + Search: the pick wins now
    jlab.click_button(app, "Search")
    expect(message(app)).to_contain_text(f"hit(s) for {second[1]}.", timeout=60_000)
    expect(jlab.upload_button(app, "Upload query")).to_have_text("Upload query (0)")

    bogus = tmp_path / "bogus.jpg"  # a non-image upload, then pick + Search: it recovers
    bogus.write_text("this is not a picture")
    jlab.upload_files(app, bogus, description="Upload query")
    expect(app.locator(".widget-html-content").filter(has_text="bogus.jpg")).to_be_visible()
    expect(jlab.upload_button(app, "Upload query")).to_have_text("Upload query (0)")
    jlab.choose_option(app, "or pick", first[1])
    jlab.click_button(app, "Search")
    expect(message(app)).to_contain_text(f"hit(s) for {first[1]}.", timeout=60_000)
    expect(grid).to_be_visible()

    jlab.fill_text(app, "Filter", 'meta["category"] ==')  # a bad filter: no stale grid, no Rerank
    jlab.click_button(app, "Search")
    expect(message(app)).to_have_count(0, timeout=60_000)
    expect(app.locator(".widget-html-content span[style*='#c62828']")).to_be_visible()
    expect(grid).to_have_count(0)
    expect(jlab.button(app, "Rerank")).to_be_disabled()
    jlab.fill_text(app, "Filter", "")
    TIMINGS["02 app"] = time.monotonic() - t0
    app.screenshot(path=str(FIGURES / "02_search-app-bad-filter.png"))


def test_03_rerank_with_the_stub_and_rerank_in_the_app(page, jupyterlab, stub):
    from playwright.sync_api import expect

    cells = run_clean(jupyterlab, page, NB3)
    expect(
        jlab.notebook(page, NB3).locator(".jp-RenderedMarkdown").filter(has_text="New order")
    ).to_be_visible()
    assert stub.requests and stub.requests[-1].image_urls
    save_figures(page, NB3, cells)

    t0 = time.monotonic()
    app = app_of(page, NB3, cells)
    jlab.choose_option(app, "or pick", sorted(titles().values())[3])
    jlab.click_button(app, "Search")
    expect(message(app)).to_be_visible(timeout=60_000)
    asked = len(stub.requests)
    jlab.click_button(app, "Rerank")
    expect(app.locator(".widget-html-content").filter(has_text="Reranked by stub-model")).to_be_visible(
        timeout=60_000
    )
    expect(app.locator(".widget-html-content").filter(has_text="New order")).to_be_visible()
    expect(app.locator(".widget-output img")).to_be_visible()
    assert len(stub.requests) == asked + 1
    TIMINGS["03 app rerank"] = time.monotonic() - t0
    app.screenshot(path=str(FIGURES / "03_rerank-app.png"))


def test_04_inspect_figures(page, jupyterlab):
    cells = run_clean(jupyterlab, page, NB4)
    save_figures(page, NB4, cells)
    assert sum(any(o["has_png"] for o in c["outputs"]) for c in cells) >= 3
