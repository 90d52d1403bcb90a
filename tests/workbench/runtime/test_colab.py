"""The notebooks' Colab cell, run as Colab runs it: a fresh interpreter without the package installed, a
stand-in ``google.colab`` module (the real one exists only in Colab), a real local HTTP server in the place of
the Colab runtime's sessions API, and a recording ``pip`` that installs nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mmrag_lab.workbench.runtime.colab import MARK, cell_source, write_cells

NOTEBOOKS = Path(__file__).resolve().parents[3] / "notebooks"
STANDIN = """
def enable_custom_widget_manager():
    print("custom widget manager enabled")
"""
PIP = """
import json, pathlib, sys
pathlib.Path(__import__("os").environ["PIP_RECORD"]).write_text(json.dumps(sys.argv[1:]))
"""


@pytest.fixture
def colab(tmp_path):
    """A folder holding the stand-in ``google.colab`` and ``pip``, and a runner for the cell."""
    lib = tmp_path / "lib"
    (lib / "google" / "colab").mkdir(parents=True)
    (lib / "google" / "__init__.py").write_text("")
    (lib / "google" / "colab" / "__init__.py").write_text("from . import output\n")
    (lib / "google" / "colab" / "output.py").write_text(STANDIN)
    (lib / "pip").mkdir()
    (lib / "pip" / "__init__.py").write_text("")
    (lib / "pip" / "__main__.py").write_text(PIP)
    work = tmp_path / "content"
    work.mkdir()

    def run(sessions_port: int | None, in_colab: bool = True) -> subprocess.CompletedProcess:
        env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(lib), "PIP_RECORD": str(tmp_path / "pip.json"),
               "COLAB_JUPYTER_IP": "127.0.0.1", "KMP_TARGET_PORT": str(sessions_port or _closed_port())}  # fmt: skip
        code = ("import google.colab\n" if in_colab else "") + cell_source()
        # -S: no site-packages, so mmrag_lab is not importable, as in a fresh Colab runtime
        return subprocess.run([sys.executable, "-S", "-c", code], cwd=work, env=env, capture_output=True,
                              text=True, timeout=60)  # fmt: skip

    run.work, run.record = work, tmp_path / "pip.json"
    return run


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sessions():
    """A local server answering ``GET /api/sessions`` with what ``sessions.reply`` holds."""
    state = {"reply": []}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = json.dumps(state["reply"]).encode()
            self.send_response(200 if self.path == "/api/sessions" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["port"] = server.server_address[1]
    yield state
    server.shutdown()


def test_a_notebook_opened_from_github_installs_from_that_repository(colab, sessions):
    sessions["reply"] = [{"id": "s1", "name": "02_search.ipynb", "type": "notebook",
                          "path": "fileId=https%3A%2F%2Fgithub.com%2Facme%2Fmmrag_lab%2Fblob%2Fdev%2Fnotebooks%2F02_search.ipynb"}]  # fmt: skip
    (colab.work / "mmrag_lab-0.1.0-py3-none-any.whl").write_bytes(b"not used: the repository wins")
    done = colab(sessions["port"])
    assert done.returncode == 0, done.stderr
    assert json.loads(colab.record.read_text()) == [
        "install",
        "--quiet",
        "mmrag-lab @ git+https://github.com/acme/mmrag_lab@dev",
    ]
    assert done.stdout.splitlines() == ["custom widget manager enabled",
                                        "installed mmrag-lab from mmrag-lab @ git+https://github.com/acme/mmrag_lab@dev"]  # fmt: skip


def test_else_the_newest_uploaded_wheel_in_the_working_folder(colab, sessions):
    sessions["reply"] = [
        {"id": "s1", "name": "02_search.ipynb", "path": "fileId=1AbCdEfGhDriveId"}
    ]  # from Drive
    old, new = (
        colab.work / "mmrag_lab-0.0.9-py3-none-any.whl",
        colab.work / "mmrag_lab-0.1.0-py3-none-any.whl",
    )
    old.write_bytes(b"old")
    new.write_bytes(b"new")
    os.utime(old, (1_000_000, 1_000_000))
    done = colab(sessions["port"])
    assert done.returncode == 0, done.stderr
    assert json.loads(colab.record.read_text()) == ["install", "--quiet", str(new)]


def test_with_neither_it_stops_with_one_message_saying_what_to_do(colab):
    done = colab(None)  # nothing answers on the sessions port
    assert done.returncode == 1 and not colab.record.exists()
    assert "Traceback" not in done.stderr
    message = done.stderr.strip()
    assert message.count("\n") == 0
    assert (
        "open the notebook from GitHub" in message and "make wheel" in message and str(colab.work) in message
    )


def test_outside_colab_the_cell_does_nothing(colab):
    done = colab(None, in_colab=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert not colab.record.exists()


def test_every_notebook_carries_the_cell_as_written_in_the_package(tmp_path):
    notebooks = sorted(NOTEBOOKS.glob("*.ipynb"))
    assert len(notebooks) >= 7
    for path in notebooks:
        cells = [c for c in json.loads(path.read_text())["cells"] if "".join(c["source"]).startswith(MARK)]
        assert ["".join(c["source"]) for c in cells] == [cell_source()], path.name
    copy = tmp_path / "nb.ipynb"
    copy.write_text((NOTEBOOKS / "02_search.ipynb").read_text().replace("install_in_colab()", "stale()"))
    assert write_cells([copy]) == [copy] and write_cells([copy]) == []
