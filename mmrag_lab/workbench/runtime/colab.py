"""The notebooks' Colab cell: install the workbench into a Colab runtime with no edit.

The cell has to run before the package is installed, so it carries :func:`install_in_colab` itself: this
module is its one source (standard library only), and ``python -m mmrag_lab.workbench.runtime.colab`` writes the
cell (:func:`cell_source`) into every notebook; a test checks that they agree. In order, it installs

1. from the GitHub repository the notebook was opened from, read from the Colab runtime's sessions API
   (the session path of a notebook opened from GitHub holds its ``github.com/OWNER/REPO/blob/REF/`` URL);
2. else from a wheel uploaded into the Colab working folder, ``/content`` (``make wheel`` builds it);
3. else it stops with one message that says which of the two to do.

It also turns on Colab's custom widget manager, which ipywidgets 8 needs there.
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path


def install_in_colab(folder=None, pip=None):
    """Install mmrag-lab into this Colab runtime (see the module docstring); returns what it installed from."""
    import glob
    import importlib.util
    import json
    import os
    import re
    import subprocess
    import sys
    import urllib.parse
    import urllib.request

    from google.colab import output

    output.enable_custom_widget_manager()
    if importlib.util.find_spec("mmrag_lab") is not None:
        return "installed already"
    folder = folder or os.getcwd()  # /content in Colab
    host = os.environ.get("COLAB_JUPYTER_IP", "172.28.0.12")
    url = f"http://{host}:{os.environ.get('KMP_TARGET_PORT', '9000')}/api/sessions"
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            sessions = json.load(reply)
    except (OSError, ValueError):
        sessions = []
    found = re.compile(r"github\.com/([\w.-]+)/([\w.-]+)/blob/([^/?#]+)/")
    repos = set()
    for session in sessions if isinstance(sessions, list) else []:
        text = urllib.parse.unquote(urllib.parse.unquote(f"{session.get('path')} {session.get('name')}"))
        repos.update(
            f"git+https://github.com/{m[0]}/{m[1].removesuffix('.git')}@{m[2]}" for m in found.findall(text)
        )
    wheels = sorted(glob.glob(os.path.join(folder, "mmrag_lab-*.whl")), key=os.path.getmtime)
    if len(repos) == 1:
        source = f"mmrag-lab @ {repos.pop()}"
    elif wheels:
        source = wheels[-1]
    else:
        raise SystemExit(
            "mmrag_lab is not installed here and the GitHub repository of this notebook is unknown. Either open "
            "the notebook from GitHub (File > Open notebook > GitHub), or run `make wheel` in a checkout and "
            f"upload dist/mmrag_lab-*.whl into {folder} (the Files pane); then run this cell again."
        )
    (pip or (lambda spec: subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", spec])))(
        source
    )
    importlib.invalidate_caches()
    print(f"installed mmrag-lab from {source}")
    return source


HEADER = """\
# Colab only: install the workbench into this runtime, from the GitHub repository this notebook was opened
# from, else from an uploaded wheel (`make wheel`); a no-op elsewhere. Written by mmrag_lab/workbench/runtime/colab.py.
import sys

"""
CALL = """

if "google.colab" in sys.modules:
    install_in_colab()
"""
MARK = "# Colab only:"


def cell_source() -> str:
    """The Colab cell's code, as every notebook carries it."""
    return HEADER + inspect.getsource(install_in_colab) + CALL.rstrip("\n")


def write_cells(notebooks: list[Path]) -> list[Path]:
    """Put :func:`cell_source` into the Colab cell (the code cell starting with ``# Colab only:``) of each
    notebook; returns the notebooks it changed."""
    changed = []
    for path in notebooks:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        for cell in notebook["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code" and source.startswith(MARK) and source != cell_source():
                cell["source"] = cell_source().splitlines(keepends=True)
                changed.append(path)
        if changed and changed[-1] == path:
            path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return changed


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[3] / "notebooks"
    for done in write_cells(sorted(folder.glob("*.ipynb"))):
        print(f"wrote the Colab cell of {done}")
