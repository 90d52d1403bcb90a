"""The compare view: one query and one instruction searched in two collections, two grids side by side.

Pick a collection on each side (listed from the URI, each with its encoder), a query image (upload one or
pick one), type an instruction and press Search. Each grid names its collection and encoder; images both
return are framed orange and marked "in both". Problems show as a message inside the view.
"""

from __future__ import annotations

import base64
import html
import logging
from pathlib import Path
from typing import Any

import ipywidgets as widgets
from IPython.display import display

from mmrag_lab.config import Config
from mmrag_lab.errors import ImageLoadError, MmragError
from mmrag_lab.plots.figures import figure_png
from mmrag_lab.plots.side_by_side import plot_hit_grid
from mmrag_lab.workbench.widgets.compare_backend import list_collections, search_both, shared_paths
from mmrag_lab.workbench.widgets.search_backend import AppBackend, folder_choices
from mmrag_lab.workbench.widgets.upload import read_upload

log = logging.getLogger(__name__)
NO_PICK = "(choose an image)"
NO_COLLECTION = "(choose a collection)"


class CompareApp:
    """Two collections, one query, two result grids.

    Args:
        config: Settings (URI); default ``Config.load()``.
        images_dir: A folder to pick query images from; default: the images of the left collection.
        k: Initial number of hits per side.
        instruction: Initial instruction.
    """

    def __init__(self, config: Config | None = None, *, images_dir: str | Path | None = None, k: int = 6,
                 instruction: str = "") -> None:  # fmt: skip
        self.config = config or Config.load()
        self.images_dir = images_dir
        self.collections: dict[str, Any] = {}
        self.query: Any = None
        self.query_name = ""
        self.results: tuple[Any, Any] | None = None
        self.shared: set[str] = set()
        self.figures: list[Any] = []
        self._create_ui(k, instruction)
        self.update()

    def _create_ui(self, k: int, instruction: str) -> None:
        self.left = widgets.Dropdown(options=[NO_COLLECTION], description="Left", layout={"width": "48%"})
        self.right = widgets.Dropdown(options=[NO_COLLECTION], description="Right", layout={"width": "48%"})
        self.upload = widgets.FileUpload(accept="image/*", multiple=False, description="Upload query")
        self.pick = widgets.Dropdown(options=[NO_PICK], description="or pick", layout={"width": "50%"})
        self.query_label = widgets.HTML("Query image: <i>none yet: upload or pick one</i>")
        self.instruction = widgets.Text(value=instruction, description="Instruction", layout={"width": "80%"},
                                        placeholder="e.g. the same but with long sleeves")  # fmt: skip
        self.k = widgets.IntSlider(value=k, min=1, max=24, description="k")
        self.search_button = widgets.Button(description="Search both", button_style="primary", icon="search")
        self.message = widgets.HTML()
        self.headers = (widgets.HTML(), widgets.HTML())
        self.outputs = (widgets.Output(), widgets.Output())
        self.search_button.on_click(self.search)
        self.upload.observe(self._on_upload, names="value")
        self.pick.observe(self._on_pick, names="value")
        self.left.observe(lambda _change: self._refresh_picks(), names="value")
        grids = [widgets.VBox([h, o], layout={"width": "50%"}) for h, o in zip(self.headers, self.outputs)]
        self.ui = widgets.VBox([
            widgets.HBox([self.left, self.right]), widgets.HBox([self.upload, self.pick]), self.query_label,
            self.instruction, self.k, self.search_button, self.message, widgets.HBox(grids),
        ])  # fmt: skip

    def update(self) -> None:
        """List the collections on the URI (each with its encoder) and the query images."""
        try:
            found = list_collections(self.config)
        except MmragError as exc:
            found = []
            self._say(str(exc), "error")
        self.collections = {c.name: c for c in found}
        options = [(NO_COLLECTION, NO_COLLECTION), *((c.label, c.name) for c in found)]
        self.left.options, self.right.options = options, options
        if len(found) >= 2:
            self.left.value, self.right.value = found[0].name, found[1].name
        elif not found:
            self._say("No mmrag_lab collection on this URI yet: ingest images first (01_ingest).", "warning")
        self._refresh_picks()

    def show(self) -> widgets.VBox:
        """Display the view (in a notebook) and return its root widget."""
        display(self.ui)
        return self.ui

    def _ipython_display_(self) -> None:
        display(self.ui)

    def search(self, _button: Any = None) -> tuple[Any, Any] | None:
        """Search the query in both collections and draw the two grids; returns both results."""
        self.search_button.disabled = True
        self._clear()
        try:
            if self.query is None:
                raise MmragError("Choose a query image first: upload one, or pick one from the list.")
            names = tuple(None if v == NO_COLLECTION else v for v in (self.left.value, self.right.value))
            self.results = search_both(
                self.config, names, self.query, self.instruction.value.strip(), self.k.value
            )
            self.shared = shared_paths(*self.results)
            for side, (name, res) in enumerate(zip(names, self.results, strict=True)):
                self._draw(side, self.collections[name], res)
            self._say(f"{len(self.shared)} image(s) in both top-{self.k.value} lists, framed orange.")
        except (ImageLoadError, MmragError) as exc:
            self._clear()
            self._say(str(exc), "error")
        except Exception as exc:  # the view is the user's surface: a message, never a traceback
            log.debug("compare search failed", exc_info=True)
            self._clear()
            self._say(f"search failed unexpectedly ({type(exc).__name__}: {exc})", "error")
        finally:
            self.search_button.disabled = False
        return self.results

    def _draw(self, side: int, choice: Any, results: Any) -> None:
        title = f"{choice.name}: {choice.encoder}"
        fig = plot_hit_grid(list(results), self.shared, title, untrained=choice.untrained)
        self.figures.append(fig)
        self.headers[
            side
        ].value = f"<b>{html.escape(choice.name)}</b>, encoder <b>{html.escape(choice.encoder)}</b>"
        png = base64.b64encode(figure_png(fig)).decode("ascii")
        data = {"image/png": png, "text/plain": f"<figure: {fig.get_suptitle()}>"}
        self.outputs[side].outputs = ({"output_type": "display_data", "data": data, "metadata": {}},)

    def _refresh_picks(self) -> None:
        name = self.left.value if self.left.value != NO_COLLECTION else None
        try:
            if self.images_dir:
                picks = folder_choices(self.images_dir)
            else:
                picks = (
                    AppBackend(self.config.with_overrides(collection=name)).collection_choices()
                    if name
                    else []
                )
        except MmragError as exc:
            picks = []
            self._say(str(exc), "warning")
        self.pick.options = [(NO_PICK, NO_PICK), *picks]

    def _on_upload(self, change: dict) -> None:
        try:
            upload = read_upload(change["new"], self.config.app_max_upload_mb)
        except ImageLoadError as exc:
            self._say(f"{exc} The query stays as it was.", "error")
            return
        if upload is not None:
            self.pick.value = NO_PICK
            self._set_query(upload[0], f"{upload[1]} (uploaded)")

    def _on_pick(self, change: dict) -> None:
        if change["new"] and change["new"] != NO_PICK:
            self._set_query(change["new"], self.pick.label)

    def _set_query(self, source: Any, name: str) -> None:
        self.query, self.query_name = source, name
        self.query_label.value = f"Query image: <b>{html.escape(name)}</b>"
        self._say("")

    def _clear(self) -> None:
        self.results, self.shared, self.figures = None, set(), []
        for header, output in zip(self.headers, self.outputs, strict=True):
            header.value, output.outputs = "", ()

    def _say(self, text: str, level: str = "info") -> None:
        color = {"info": "#1a7f37", "warning": "#9a6700", "error": "#c62828"}[level]
        self.message.value = (
            f'<span style="color:{color}">{html.escape(text, quote=False)}</span>' if text else ""
        )
