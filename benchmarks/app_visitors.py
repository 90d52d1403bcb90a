"""The app page (`mmrag app`, Voilà) with one visitor and with four at once, in Chromium (Playwright).

Each visitor opens the page, waits for the app, picks a query image and presses Search. Three times are
taken from the moment the visitor navigates: the browser's first contentful paint (Voilà's loading page),
the app shown (its Search button is on the page: the visitor's kernel has started and run the notebook),
and the first grid (the search's figure is on the page). Four visitors navigate at the same moment, so
their kernels start, import and search side by side and share the one Lite database through its server.
The figures are medians over visitors and rounds, reported as ratios against one visitor in the same run.

usage: python benchmarks/app_visitors.py [--quick]   (also a section of `make bench`)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "tests" / "browser")]

import jlab  # noqa: E402
from appserver import AppServer, collection_args  # noqa: E402

from mmrag_lab.config import Config  # noqa: E402
from mmrag_lab.ingestion.options import IngestOptions  # noqa: E402
from mmrag_lab.ingestion.pipeline import ingest  # noqa: E402
from mmrag_lab.workbench.runtime.sample import sample_dir, sample_metadata  # noqa: E402

CROWD = 4
_FCP = "() => (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime || null"


def _collection(folder: Path) -> Path:
    config = Config.load(env={}, milvus_uri=str(folder / "app.db"), collection="bench", encoder="tiny",
                         weights="untrained", device="cpu", cache_dir=str(folder / "cache"))  # fmt: skip
    ingest(
        sample_dir(),
        config=config,
        metadata=sample_metadata(),
        progress=False,
        options=IngestOptions(workers=0),
    )
    return folder / "app.db"


def _visit(browser, url: str, n: int, timeout: float = 300.0) -> list[dict]:
    """``n`` visitors at once; each one's seconds to first paint, the app shown, and the first grid."""
    contexts = [browser.new_context(viewport={"width": 1100, "height": 900}) for _ in range(n)]
    pages = [context.new_page() for context in contexts]
    times = [{} for _ in pages]
    starts = []
    for page in pages:
        starts.append(time.perf_counter())
        page.goto(url, wait_until="commit")
    deadline = time.perf_counter() + timeout
    while any("grid" not in t for t in times):
        if time.perf_counter() > deadline:
            raise TimeoutError(f"not every visitor got a grid within {timeout:.0f} s: {times}")
        for page, start, t in zip(pages, starts, times):
            if "app" not in t and jlab.button(page, "Search").count():
                t["app"] = time.perf_counter() - start
                options = page.locator(".widget-dropdown select").first.locator("option").all_inner_texts()
                jlab.choose_option(page, "or pick", options[5])
                jlab.click_button(page, "Search")
            elif "app" in t and "grid" not in t and page.locator(".widget-output img").count():
                t["grid"] = time.perf_counter() - start
        time.sleep(0.05)
    for page, t in zip(pages, times):
        fcp = page.evaluate(_FCP)
        t["paint"] = fcp / 1000 if fcp else None
    for context in contexts:
        context.close()
    return times


def _median(rows: list[dict], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(values) if values else None


def run(quick: bool = False) -> dict:
    from playwright.sync_api import sync_playwright

    rounds = 1 if quick else 3
    with tempfile.TemporaryDirectory(prefix="mmrag-bench-app-") as tmp:
        db = _collection(Path(tmp))
        args = [*collection_args(db, "bench"), "--max-kernels", "0"]
        with AppServer(args, Path(tmp) / "app.log") as app, sync_playwright() as p:
            browser = jlab.launch_chromium(p)
            _visit(browser, app.url, 1)  # warm the page cache and the Lite server once
            alone, crowd = [], []
            for _ in range(rounds):
                alone += _visit(browser, app.url, 1)
                crowd += _visit(browser, app.url, CROWD)
            browser.close()
    return render({"rounds": rounds, "alone": alone, "crowd": crowd})


def render(results: dict) -> dict:
    rows = []
    for label, key in (("first paint (Voilà's loading page)", "paint"), ("the app shown", "app"),
                       ("the first grid", "grid")):  # fmt: skip
        one, four = _median(results["alone"], key), _median(results["crowd"], key)
        slowest = max(r[key] for r in results["crowd"] if r.get(key) is not None)
        rows.append(f"| {label} | {one:.2f} s | {four:.2f} s | **{four / one:.2f}** | {slowest / one:.2f} |")
    markdown = "\n".join([
        f"`python benchmarks/app_visitors.py`: `mmrag app` (Voilà) on 127.0.0.1 with the tiny encoder on the CPU "
        f"and the 40-image sample in Milvus Lite; Chromium visitors, median over {results['rounds']} round(s) "
        f"(one visitor, then {CROWD} at once), times from navigation.",
        "",
        f"| time to | 1 visitor | {CROWD} at once (median) | ratio | slowest of {CROWD} / 1 visitor |",
        "|---|---|---|---|---|",
        *rows,
        "",
        "Each visitor's kernel starts and imports the workbench (torch) on its own, so with more visitors than "
        "cores the app's start is CPU-bound; the searches share the one Lite server.",
    ])  # fmt: skip
    return {
        "title": f"The app page: one visitor and {CROWD} at once",
        "markdown": markdown,
        "results": results,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="one round instead of three")
    from run import machine

    quick = parser.parse_args().quick
    section = run(quick)
    section.update(machine=machine(), quick=quick)
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "results" / "app_visitors.json").write_text(json.dumps(section, indent=2))
    print(section["markdown"])
