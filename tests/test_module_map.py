"""ARCHITECTURE.md lists every module of the package, one line each, as the code says it (its docstring)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_module_map_in_architecture_md_is_current():
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "module_map.py"), "--check"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_module_has_a_line_that_says_what_it_is_for():
    text = (ROOT / "ARCHITECTURE.md").read_text()
    for path in (ROOT / "mmrag_lab").rglob("*.py"):
        rel = path.relative_to(ROOT / "mmrag_lab").as_posix()
        shown = rel.removesuffix("__init__.py") if path.name == "__init__.py" and "/" in rel else rel
        assert f"| `{shown}` |" in text, rel
    assert "(no docstring)" not in text
