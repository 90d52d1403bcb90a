"""Smoke test of the browser harness: a tiny notebook run in the real JupyterLab, like a person would.

Open it, Run -> Run All Cells, then use its widgets (dropdown, text, upload, button) and check what the
page shows: printed text, the matplotlib <img>, the error output, and the widget Output.
"""

from __future__ import annotations

import time

import jlab
import nbformat
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

NB = "smoke_browser.ipynb"

WIDGETS = """\
import ipywidgets as w
from IPython.display import display

dd = w.Dropdown(options=["alpha", "beta", "gamma"], value="alpha", description="Mode")
tx = w.Text(value="", description="Query")
k = w.IntSlider(value=9, min=1, max=50, description="k")
up = w.FileUpload(description="Upload query", multiple=False)
go = w.Button(description="Go")
out = w.Output()
status = w.HTML("<b>idle</b>")

def on_go(_):
    files = [(f["name"], f["size"], bytes(f["content"]).decode()) for f in up.value]
    with out:
        out.clear_output()
        print(f"mode={dd.value} query={tx.value} k={k.value} files={files}")
    status.value = f"<b>done {len(files)} file(s)</b>"

go.on_click(on_go)
display(w.VBox([dd, tx, k, up, go, status, out]))
"""


def make_notebook(path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# browser smoke"),
        nbformat.v4.new_code_cell('import sys\nprint("hello from cell 1")\nprint(sys.executable)'),
        nbformat.v4.new_code_cell(
            "import matplotlib.pyplot as plt\n"
            "fig, ax = plt.subplots(figsize=(3, 2))\n"
            "ax.plot([0, 1, 2], [0, 1, 4])\n"
            'ax.set_title("smoke")\n'
            "plt.show()"
        ),
        nbformat.v4.new_code_cell(WIDGETS),
        nbformat.v4.new_code_cell('raise ValueError("boom on purpose")'),
        nbformat.v4.new_code_cell('print("never runs: Run All stops at the error")'),
    ]
    nbformat.write(nb, path)


def test_smoke_notebook_in_real_jupyterlab(lab_page, jupyterlab, tmp_path):
    from playwright.sync_api import expect

    page, lab = lab_page, jupyterlab
    make_notebook(lab.root / NB)
    t = {}

    t0 = time.monotonic()
    state = jlab.open_notebook(lab, page, NB)
    t["open+kernel"] = time.monotonic() - t0
    assert state["kernel_name"] == "python3"

    t0 = time.monotonic()
    before = jlab.run_all_cells(page, NB)
    jlab.wait_until_done(lab, page, NB, before, timeout=60)
    t["run all"] = time.monotonic() - t0

    # --- exact outputs from the notebook model
    cells = jlab.read_outputs(page, NB)
    assert "hello from cell 1" in cells[1]["outputs"][0]["text"]
    assert cells[1]["outputs"][1:] == [] and lab.python.split("/bin/")[0] in cells[1]["outputs"][0]["text"]
    assert any(o["has_png"] for o in cells[2]["outputs"]), cells[2]["outputs"]
    assert [o["widget_model_id"] is not None for o in cells[3]["outputs"]] == [True]
    errs = jlab.errors(cells)
    assert [(e["cell"], e["ename"], e["evalue"]) for e in errs] == [(4, "ValueError", "boom on purpose")]
    assert cells[5]["execution_count"] is None and cells[5]["outputs"] == []

    # --- what the page shows
    expect(jlab.cell(page, NB, 1).locator(".jp-OutputArea-output")).to_contain_text("hello from cell 1")
    img = jlab.cell(page, NB, 2).locator(".jp-OutputArea-output img")
    expect(img).to_be_visible()
    assert img.evaluate("i => i.complete && i.naturalWidth > 100 && i.src.startsWith('data:image/png')")
    err = jlab.cell(page, NB, 4).locator(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
    )
    expect(err).to_contain_text("ValueError")
    expect(err).to_contain_text("boom on purpose")

    # --- the widgets, as a person uses them
    t0 = time.monotonic()
    ui = jlab.cell(page, NB, 3)
    expect(jlab.button(ui, "Go")).to_be_visible()  # widgets render asynchronously after the run
    jlab.choose_option(ui, "Mode", "gamma")
    jlab.fill_text(ui, "Query", "cats on a mat")
    probe = tmp_path / "probe.txt"
    probe.write_text("xyz")
    jlab.set_slider(ui, "k", 17)
    jlab.upload_files(ui, probe, description="Upload query")
    expect(jlab.upload_button(ui, "Upload query")).to_have_text("Upload query (1)")
    jlab.click_button(ui, "Go")
    expect(ui.locator(".widget-output")).to_contain_text(
        "mode=gamma query=cats on a mat k=17 files=[('probe.txt', 3, 'xyz')]"
    )
    expect(ui.locator(".widget-html-content")).to_have_text("done 1 file(s)")
    t["widgets"] = time.monotonic() - t0

    # --- the widget models, exactly (front-end side)
    states = jlab.widget_states(page, NB)
    (dd,) = jlab.find_widgets(states, "DropdownModel")
    assert dd["_options_labels"][dd["index"]] == "gamma"
    assert jlab.find_widgets(states, "TextModel", description="Query")[0]["value"] == "cats on a mat"
    assert jlab.find_widgets(states, "IntSliderModel", description="k")[0]["value"] == 17
    assert jlab.find_widgets(states, "FileUploadModel")[0]["value"][0]["name"] == "probe.txt"
    print("\n[timings] " + ", ".join(f"{k}={v:.1f}s" for k, v in t.items()))
