"""Checks of the harness itself: several notebooks keep their own live kernels; the Select Kernel dialog."""

from __future__ import annotations

import jlab
import nbformat
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

COUNTER = 'counter = globals().get("counter", 0) + 1\nprint("counter", counter)'


def write_nb(path, *sources, kernel="python3"):
    nb = nbformat.v4.new_notebook()
    if kernel:
        nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)


def test_two_notebooks_keep_their_kernels(lab_page, jupyterlab):
    page, lab = lab_page, jupyterlab
    write_nb(lab.root / "nb_a.ipynb", COUNTER)
    write_nb(lab.root / "nb_b.ipynb", "import os\nprint('pid', os.getpid())")

    a = jlab.open_notebook(lab, page, "nb_a.ipynb")  # by URL
    assert jlab.run_notebook(lab, page, "nb_a.ipynb")[0]["outputs"][0]["text"] == "counter 1\n"

    b = jlab.open_notebook(lab, page, "nb_b.ipynb")  # double-click in the file browser
    assert (a["opened_via"], b["opened_via"]) == ("url", "filebrowser")
    assert "pid" in jlab.run_notebook(lab, page, "nb_b.ipynb")[0]["outputs"][0]["text"]
    assert a["kernel_id"] != b["kernel_id"]
    assert {a["kernel_id"], b["kernel_id"]} <= {k["id"] for k in lab.kernels()}

    # back to A (click its tab), Run All again: the same kernel, its state kept
    assert jlab.run_notebook(lab, page, "nb_a.ipynb")[0]["outputs"][0]["text"] == "counter 2\n"
    assert jlab._panel_state(page, "nb_a.ipynb")["kernel_id"] == a["kernel_id"]


def test_unknown_kernelspec_asks_for_a_kernel(lab_page, jupyterlab):
    page, lab = lab_page, jupyterlab
    write_nb(lab.root / "nb_unknown.ipynb", "import sys\nprint(sys.executable)", kernel="no-such-kernel")
    with pytest.raises(jlab.JupyterLabError, match="Select Kernel"):
        jlab.open_notebook(lab, page, "nb_unknown.ipynb", timeout=30)
    st = jlab.open_notebook(lab, page, "nb_unknown.ipynb", kernel_dialog="Python 3 (ipykernel)")
    assert st["kernel_name"] == "python3"
    out = jlab.run_notebook(lab, page, "nb_unknown.ipynb")[0]["outputs"][0]["text"]
    assert out.strip() == lab.python
