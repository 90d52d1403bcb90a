"""A fresh clone, after ``make setup``, strips outputs from a notebook on commit (the nbstripout git filter)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix)


def git(cwd: Path, *args: str) -> str:
    cmd = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", *args]
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.mark.skipif(shutil.which("make") is None or shutil.which("git") is None, reason="needs make and git")
@pytest.mark.skipif(not (VENV / "bin" / "nbstripout").exists(), reason="nbstripout missing: make setup")
@pytest.mark.slow
def test_make_setup_installs_a_filter_that_strips_outputs_on_commit(tmp_path):
    clone = tmp_path / "clone"
    clone.mkdir()
    git(clone, "init", "-q")
    shutil.copy(REPO / "Makefile", clone / "Makefile")
    for name in ("pyproject.toml", "requirements.in", "requirements.lock"):
        shutil.copy(REPO / name, clone / name)
    shutil.copytree(REPO / "tools", clone / "tools")
    (clone / ".venv").symlink_to(VENV)  # the built venv, already at the lock: setup only checks it
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print('hi')", execution_count=3)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
    nb.cells = [cell]
    (clone / "notebooks").mkdir()
    nbformat.write(nb, clone / "notebooks" / "x.ipynb")

    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "MAKE"))}
    subprocess.run(["make", "setup"], cwd=clone, env=env, check=True,
                   capture_output=True, text=True)  # fmt: skip
    git(clone, "add", "notebooks/x.ipynb")
    git(clone, "commit", "-q", "-m", "a notebook with outputs")

    committed = json.loads(git(clone, "show", "HEAD:notebooks/x.ipynb"))
    assert committed["cells"][0]["outputs"] == [] and committed["cells"][0]["execution_count"] is None
    assert (
        nbformat.read(clone / "notebooks" / "x.ipynb", as_version=4).cells[0].outputs
    )  # the file keeps them
    assert "nbstripout" in git(clone, "config", "--get", "filter.nbstripout.clean")
