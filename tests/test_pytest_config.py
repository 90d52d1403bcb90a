"""The suite's own pytest settings: one failing test is reported, and the run goes on to its summary."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PLANTED = """
import openai


def make_client():
    # What a transport swap underneath the client does to a caller: a TypeError from deep inside.
    raise TypeError("Invalid timeout: expected a number, None, a tuple or httpx2.Timeout")


def test_planted_reranker_failure():
    make_client()


def test_after_the_failure():
    assert openai.OpenAI is not None
"""


def test_tracebacks_are_native_so_no_source_file_is_reparsed():
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "--tb=native" in options["addopts"].split()


def test_a_planted_failure_is_reported_and_the_run_reaches_its_summary(tmp_path):
    (tmp_path / "test_planted.py").write_text(PLANTED)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", str(ROOT / "pyproject.toml"),
         "--rootdir", str(tmp_path), str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "Traceback (most recent call last)" in out  # Python's own format, not pytest's re-parsed one
    assert "TypeError: Invalid timeout" in out
    assert "INTERNALERROR" not in out
    assert out.rstrip().splitlines()[-1].startswith("1 failed, 1 passed"), out


def test_no_test_module_imports_a_conftest_by_name():
    """``conftest`` names whichever conftest.py pytest imported last (tests/ has several), so a test module
    that imports from it breaks its whole run at collection; shared helpers live in modules of their own."""
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in (ROOT / "tests").rglob("*.py")
        if "fixtures" not in path.parts
        for node in ast.walk(ast.parse(path.read_text()))
        if (isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[-1] == "conftest")
        or (isinstance(node, ast.Import) and any(a.name.split(".")[-1] == "conftest" for a in node.names))
    ]
    assert not found, f"import the helper from its own module (e.g. tests/ports.py), not a conftest: {found}"


def test_the_fast_tier_names_registered_markers():
    """``make check``'s marker expression leaves out only markers the suite declares (pytest would take a
    misspelt one as a marker no test has, and run everything)."""
    fast = re.search(r"^FAST := (.+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    declared = {
        line.split(":")[0]
        for line in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"][
            "markers"
        ]
    }
    named = set(re.findall(r"\b(?!not\b|and\b|or\b)(\w+)", fast))
    assert named == {"slow", "server", "browser"} and named <= declared, fast
