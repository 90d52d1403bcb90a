"""The compare view in the real JupyterLab at 1100 px: two collections, one query, two grids, and a bad
choice (the same collection on both sides) that gives a message. Tiny untrained encoder on the CPU."""

from __future__ import annotations

import jlab
import nbformat
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

NB = "compare_view.ipynb"
SETUP = """\
from mmrag_lab.config import Config
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.workbench.runtime.sample import sample_dir, sample_metadata

config = Config.load(milvus_uri={uri!r}, encoder="tiny", weights="untrained", device="cpu")
ingest(sample_dir(), config=config.with_overrides(collection="all"), metadata=sample_metadata(), progress=False)
for folder in ("dress", "hat"):
    ingest(sample_dir() / folder, config=config.with_overrides(collection="some"), progress=False)
print("ingested")
"""
VIEW = """\
from mmrag_lab.workbench.widgets.compare_app import CompareApp

view = CompareApp(config, k=6)
view
"""


def test_compare_view_in_real_jupyterlab(lab_page, jupyterlab, tmp_path):
    from playwright.sync_api import expect

    page, lab = lab_page, jupyterlab
    page.set_viewport_size({"width": 1100, "height": 1000})
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell(SETUP.format(uri=str(tmp_path / "cmp.db"))),
        nbformat.v4.new_code_cell(VIEW),
    ]
    nbformat.write(nb, lab.root / NB)
    cells = jlab.run_notebook(lab, page, NB, timeout=240)
    assert jlab.errors(cells) == [] and "ingested" in jlab.all_text(cells[:1])

    ui = jlab.cell(page, NB, 1)
    expect(jlab.button(ui, "Search both")).to_be_visible()
    left = ui.locator(".widget-dropdown").filter(has=page.locator(".widget-label", has_text="Left"))
    shown = [t.replace("\xa0", " ") for t in left.locator("select option").all_inner_texts()]
    assert shown == [
        "(choose a collection)", "all (tiny, untrained)", "some (tiny, untrained)"]  # fmt: skip
    states = jlab.widget_states(page, NB)
    picks = jlab.find_widgets(states, "DropdownModel", description="or pick")[0]["_options_labels"]
    query = picks[3]  # any stored image
    jlab.choose_option(ui, "or pick", query)
    jlab.fill_text(ui, "Instruction", "the same, in red")
    jlab.click_button(ui, "Search both")
    grids = ui.locator(".widget-output img")
    expect(grids).to_have_count(2, timeout=60_000)
    assert all(g.evaluate("i => i.complete && i.naturalWidth > 300") for g in grids.all())
    expect(ui.locator(".widget-html-content").filter(has_text="encoder tiny")).to_have_count(2)
    expect(ui.locator(".widget-html-content").filter(has_text="in both top-6 lists")).to_have_count(1)

    jlab.choose_option(ui, "Right", "all (tiny, untrained)")
    jlab.click_button(ui, "Search both")
    expect(
        ui.locator(".widget-html-content").filter(has_text="choose two different collections")
    ).to_have_count(1)
    expect(grids).to_have_count(0)
