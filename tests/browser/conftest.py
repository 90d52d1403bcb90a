"""Fixtures for browser tests of the real JupyterLab (see jlab.py).

* ``jupyterlab`` (session): one server over a temp copy of ``notebooks/`` (``$MMRAG_NOTEBOOKS`` overrides).
* ``chromium`` (session): one headless system Chromium (``MMRAG_HEADED=1`` for a visible one, needs X).
* ``lab_page`` (function): a fresh browser context + page; on failure its screenshot, HTML, browser console
  and the server log tail go to ``$MMRAG_BROWSER_ARTIFACTS`` (default ``<rootdir>/runs/browser-artifacts``).

Chromium is installed (``setup_browser.sh``: apt-get) when missing; the tests are skipped, loudly, only where
no browser can be installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from pathlib import Path

import jlab
import pytest

HERE = Path(__file__).resolve().parent
NOTEBOOKS = Path(os.environ.get("MMRAG_NOTEBOOKS", HERE.parents[1] / "notebooks"))
SKIPPED: list[str] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


@pytest.fixture(scope="session")
def artifacts_dir(request) -> Path:
    d = Path(
        os.environ.get("MMRAG_BROWSER_ARTIFACTS", request.config.rootpath / "runs" / "browser-artifacts")
    )
    d.mkdir(parents=True, exist_ok=True)
    return d


def _ensure_browser() -> str | None:
    """Why no browser can run here (None: Chromium and Playwright are ready); installs what is missing."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Python Playwright is missing: `pip install -e .[dev]` (make setup) installs it"
    if jlab.chromium_executable() is None:
        done = subprocess.run(["bash", str(HERE / "setup_browser.sh")], capture_output=True, text=True)
        if jlab.chromium_executable() is None:
            return f"Chromium could not be installed (setup_browser.sh: {done.stderr.strip()[-300:]})"
    return None


def _skip_loudly(reason: str) -> None:
    SKIPPED.append(reason)
    warnings.warn(f"BROWSER TESTS SKIPPED: {reason}", stacklevel=2)
    pytest.skip(f"BROWSER TESTS SKIPPED: {reason}")


def pytest_terminal_summary(terminalreporter):
    if SKIPPED:
        bar = "!" * 100
        terminalreporter.write_line(bar, red=True, bold=True)
        terminalreporter.write_line(f"BROWSER TESTS SKIPPED: {SKIPPED[0]}", red=True, bold=True)
        terminalreporter.write_line("The notebooks and the app were NOT tested in a real browser.", red=True)
        terminalreporter.write_line(bar, red=True, bold=True)


@pytest.fixture(scope="session")
def sync_playwright_instance():
    reason = _ensure_browser()
    if reason:
        _skip_loudly(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def chromium(sync_playwright_instance):
    browser = jlab.launch_chromium(sync_playwright_instance, headless=os.environ.get("MMRAG_HEADED") != "1")
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def jupyterlab(artifacts_dir, tmp_path_factory):
    src = NOTEBOOKS if NOTEBOOKS.is_dir() else None
    log = artifacts_dir / "jupyterlab.log"
    log.unlink(missing_ok=True)
    with jlab.JupyterLab(src, log_path=log) as lab:
        print(f"\n[jlab] JupyterLab up in {lab.startup_seconds:.1f}s at {lab.base_url} root={lab.root}")
        yield lab


@pytest.fixture
def lab_page(request, chromium, jupyterlab, artifacts_dir):
    context = chromium.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=False)
    context.set_default_timeout(30_000)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(f"[{m.type}] {m.text}"))
    page.on("pageerror", lambda e: console.append(f"[pageerror] {e}"))
    yield page
    rep = getattr(request.node, "rep_call", None)
    if rep is None or rep.failed:
        name = request.node.nodeid.replace("/", "_").replace("::", "__")
        shot = jlab.screenshot(page, artifacts_dir, name)
        (artifacts_dir / f"{name}.console.txt").write_text("\n".join(console))
        shutil.copy(jupyterlab.log_path, artifacts_dir / f"{name}.jupyterlab.log")
        print(f"\n[jlab] failure artifacts: {shot} (+ .html, .console.txt, .jupyterlab.log)")
    context.close()
