"""An ipywidgets app for composed search and reranking, for JupyterLab and Colab.

Pick a query image (upload one, or choose one from the collection or a folder: the last one chosen is the
query, named under the controls), type an instruction, optionally keywords (BM25 on the collection's text field, fused with the query), set
k and an optional filter, press Search, then Rerank. Toggle like or unlike on hits and press Refine for the
next round (Rocchio relevance feedback). The grid and the explanation appear below. Problems show
as a message inside the app, never as a traceback, and the buttons stay disabled while work runs.
"""

from __future__ import annotations

import base64
import html
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ipywidgets as widgets
from IPython.display import display
from PIL import Image

from mmrag_lab.bugs import log_unexpected
from mmrag_lab.config import Config
from mmrag_lab.errors import ImageLoadError, MmragError
from mmrag_lab.plots.figures import figure_png, plot_rerank, plot_results
from mmrag_lab.workbench.widgets.judging import JudgePanel, round_summary
from mmrag_lab.workbench.widgets.search_backend import AppBackend, folder_choices
from mmrag_lab.workbench.widgets.upload import read_upload

NO_PICK = "(choose an image)"


class SearchApp:
    """Search and rerank controls with a result grid.

    The query is the last image chosen, by upload or from the pick list (each choice resets the other); the
    app names it, and **Clear upload** removes an uploaded one. A failed action clears the results it would have replaced.

    Args:
        config: Settings (URI, collection, encoder, model); default ``Config.load()``.
        images_dir: A folder to pick query images from; default: the images in the collection.
        k: Initial number of hits.
        instruction: Initial instruction.
        backend: What runs the work (tests may pass their own); default :class:`AppBackend`.
    """

    def __init__(self, config: Config | None = None, *, images_dir: str | Path | None = None, k: int = 9,
                 instruction: str = "", backend: AppBackend | None = None) -> None:  # fmt: skip
        self.config = config or Config.load()
        self.backend = backend or AppBackend(self.config)
        self.images_dir = images_dir
        self.results: Any = None
        self.reranked: Any = None
        self.query: Any = None
        self.query_name = ""
        self.figure: Any = None
        self._names: dict[str, str] = {}  # row id -> file name, for the round summary
        self._create_ui(k, instruction)
        self.update()

    def _create_ui(self, k: int, instruction: str) -> None:
        self.upload = widgets.FileUpload(accept="image/*", multiple=False, description="Upload query")
        self.clear_upload = widgets.Button(description="Clear upload", icon="times", disabled=True)
        self.pick = widgets.Dropdown(options=[NO_PICK], description="or pick", layout={"width": "50%"})
        self.query_label = widgets.HTML()
        self.instruction = widgets.Text(value=instruction, description="Instruction",
                                        placeholder="e.g. the same but with long sleeves", layout={"width": "80%"})  # fmt: skip
        self.k = widgets.IntSlider(value=k, min=1, max=50, description="k")
        self.filter = widgets.Text(description="Filter", placeholder='meta["category"] == "dress"',
                                   layout={"width": "80%"})  # fmt: skip
        self.keywords = widgets.Text(description="Keywords", placeholder="e.g. phone case (BM25, fused)",
                                     layout={"width": "80%"})  # fmt: skip
        self.search_button = widgets.Button(description="Search", button_style="primary", icon="search")
        self.rerank_button = widgets.Button(description="Rerank", icon="sort", disabled=True)
        self.refine_button = widgets.Button(description="Refine", icon="refresh", disabled=True)
        self.judge = JudgePanel()
        self.round_label = widgets.HTML()
        self.progress = widgets.IntProgress(value=0, min=0, max=3, layout={"visibility": "hidden"})
        self.status = widgets.HTML()
        self.message = widgets.HTML()
        self.output = widgets.Output()
        self.hit_names = widgets.HTML()  # the grid's files as text, for readers and screen readers
        self.explanation = widgets.HTML()
        self.search_button.on_click(self.search)
        self.rerank_button.on_click(self.rerank)
        self.refine_button.on_click(self.refine)
        self.clear_upload.on_click(self._clear_upload)
        self.upload.observe(self._on_upload, names="value")
        self.pick.observe(self._on_pick, names="value")
        buttons = widgets.HBox(
            [self.search_button, self.rerank_button, self.refine_button, self.progress, self.status]
        )
        query = widgets.HBox([self.upload, self.clear_upload, self.pick])
        controls = [query, self.query_label, self.instruction, self.keywords, self.k, self.filter, buttons]
        shown = [self.message, self.round_label, self.output, self.hit_names, self.judge.ui, self.explanation]
        self.ui = widgets.VBox([*controls, *shown])
        self._set_query(None, "")

    def update(self) -> None:
        """Refresh the pick list (folder or collection) and the buttons' state."""
        try:
            choices = (
                folder_choices(self.images_dir) if self.images_dir else self.backend.collection_choices()
            )
        except MmragError as exc:
            choices = []
            self._say(str(exc), "warning")
        self.pick.options = [(NO_PICK, NO_PICK), *choices]
        self.rerank_button.disabled = self.refine_button.disabled = self.results is None

    def show(self) -> widgets.VBox:
        """Display the app (in a notebook) and return its root widget."""
        display(self.ui)
        return self.ui

    def _ipython_display_(self) -> None:
        display(self.ui)

    def search(self, _button: Any = None) -> Any:
        """Run the composed search with the current controls and draw the grid; returns the results."""
        with self._busy("searching", clears_results=True):
            keywords = self.keywords.value.strip() or None
            if self.query is None and not keywords:
                raise _UserError(
                    "Choose a query image first (upload one, or pick one from the list), or type keywords."
                )
            instruction = self.instruction.value.strip()
            self._step("searching the collection")
            self.results = self.backend.search(self.query, instruction, self.k.value,
                                               self.filter.value.strip() or None, keywords=keywords)  # fmt: skip
            self._step("drawing the grid")
            self._draw_results(instruction)
            said = (
                ""
                if instruction or self.query is None
                else " No instruction was typed, so this searched by the image alone."
            )
            more = " Press Rerank to ask the LLM, or judge hits and press Refine." if self.results else ""
            self._say(f"{len(self.results)} hit(s) for {self.query_name or 'the keywords'}.{said}{more}")
            return self.results

    def refine(self, _button: Any = None) -> Any:
        """The next feedback round: the query moved toward the liked hits and away from the unliked ones."""
        previous, (liked, unliked) = self.results, self.judge.judged()
        order = list(self.judge.hits)
        with self._busy("refining", clears_results=True):
            if previous is None:
                raise _UserError("Search first: there are no hits to judge yet.")
            if not liked and not unliked:
                raise _UserError("Toggle like or unlike on at least one hit, then press Refine.")
            self._names.update((hit.id, Path(str(hit.path)).name) for hit in order)
            self._step("moving the query and searching again")
            self.results = self.backend.refine(previous, liked, unliked, order)
            self._step("drawing the grid")
            self._draw_results(self.instruction.value.strip())
            self._say(f"Round {self.results.round}: {len(self.results)} hit(s), {len(liked)} liked and "
                      f"{len(unliked)} unliked this round.")  # fmt: skip
            return self.results

    def _draw_results(self, instruction: str) -> None:
        results = self.results
        kind = "composed query" if instruction else "query image alone (no instruction)"
        if self.query is None:
            kind = "keywords"
        elif results.query.keywords:
            kind += " and keywords"
        turn = f"Round {results.round}: top" if results.round else "Top"
        title = f"{turn} {len(results)} for the {kind}: {self.query_name or results.query.keywords}"
        self._show_figure(plot_results(results, self.query, title, instruction=instruction))
        self._show_names("Hits", results)
        self.round_label.value = round_summary(results, self._names)
        self.judge.show(results.hits)

    def rerank(self, _button: Any = None) -> Any:
        """Ask the LLM to reorder the current hits; draw both orders and the explanation."""
        with self._busy("reranking", clears_results=False):
            if self.results is None:
                raise _UserError("Search first: there are no hits to rerank yet.")
            self._step("building the panorama and asking the model")
            self.reranked = self.backend.rerank(self.results, self.query, self.instruction.value.strip())
            self._step("drawing")
            self._show_figure(plot_rerank(self.results, self.reranked, self.query,
                                          instruction=self.instruction.value.strip()))  # fmt: skip
            self._show_names("Reranked", self.reranked.hits)
            self.judge.show(self.reranked.hits)  # a refine now starts from the reranked order
            if self.reranked.fallback_reason:
                self._say(
                    "No reranking, the retrieval order is kept: " + self.reranked.fallback_reason, "warning"
                )
            else:
                self.explanation.value = _explanation_html(self.reranked)
                self._say(f"Reranked by {self.reranked.model}.")
            return self.reranked

    def _on_upload(self, change: dict) -> None:
        try:
            upload = read_upload(change["new"], self.config.app_max_upload_mb)
        except ImageLoadError as exc:
            self._say(f"{exc} The query stays as it was.", "error")
            self.upload.value = ()
            return
        if upload is None:
            return
        picture, name = upload
        self.pick.value = NO_PICK
        self._set_query(picture, f"{name} (uploaded)")
        self._say("")

    def _on_pick(self, change: dict) -> None:
        if change["new"] and change["new"] != NO_PICK:
            self.upload.value = ()
            self._set_query(change["new"], self.pick.label)
            self._say("")

    def _clear_upload(self, _button: Any = None) -> None:
        self.upload.value = ()
        self._set_query(None, "")

    def _set_query(self, source: Any, name: str) -> None:
        self.query, self.query_name = source, name
        self.clear_upload.disabled = not isinstance(source, Image.Image)
        self.pick.tooltip = self.pick.value if self.pick.value != NO_PICK else None
        shown = f"<b>{html.escape(name)}</b>" if source is not None else "<i>none yet: upload or pick one</i>"
        self.query_label.value = f"Query image: {shown}"

    def _clear_results(self) -> None:
        self.results = self.reranked = self.figure = None
        self.output.outputs = ()
        self.explanation.value = self.hit_names.value = self.round_label.value = ""
        self.judge.clear()

    def _show_figure(self, fig: Any) -> None:
        self.figure = fig
        png = base64.b64encode(figure_png(fig)).decode("ascii")
        data = {"image/png": png, "text/plain": f"<figure: {fig.get_suptitle()}>"}
        self.output.outputs = ({"output_type": "display_data", "data": data, "metadata": {}},)

    def _show_names(self, what: str, hits: Any) -> None:
        names = " · ".join(f"{i}. {html.escape(Path(str(h.path)).name)}" for i, h in enumerate(hits, 1))
        self.hit_names.value = f"<small><b>{what}:</b> {names}</small>"

    def _say(self, text: str, level: str = "info") -> None:
        color = {"info": "#1a7f37", "warning": "#9a6700", "error": "#c62828"}[level]
        self.message.value = (
            f'<span style="color:{color}">{html.escape(text, quote=False)}</span>' if text else ""
        )

    def _step(self, text: str) -> None:
        self.progress.value = min(self.progress.value + 1, self.progress.max)
        self.status.value = html.escape(text) + "..."

    @contextmanager
    def _busy(self, what: str, clears_results: bool):
        self.search_button.disabled = self.rerank_button.disabled = self.refine_button.disabled = True
        self.progress.value, self.progress.layout.visibility = 0, "visible"
        self.message.value = ""
        if clears_results:
            self._clear_results()
        else:
            self.reranked, self.explanation.value = None, ""
        try:
            yield
        except (_UserError, ImageLoadError, MmragError) as exc:
            self._failed(clears_results)
            self._say(str(exc), "error")
        except Exception as exc:  # the app is the user's surface: a message, never a traceback
            self._failed(clears_results)
            self._say(f"{what.capitalize()} failed: {log_unexpected(exc, f'the app ({what})')}", "error")
        finally:
            self.progress.layout.visibility, self.status.value = "hidden", ""
            self.search_button.disabled = False
            self.rerank_button.disabled = self.refine_button.disabled = self.results is None

    def _failed(self, clears_results: bool) -> None:
        if clears_results:
            self._clear_results()
        else:
            self.reranked, self.figure, self.output.outputs, self.hit_names.value = None, None, (), ""


class _UserError(MmragError):
    """Something the user can fix in the app itself."""


def _explanation_html(reranked: Any) -> str:
    order = ", ".join(f"#{i + 1}" for i in reranked.order)
    return f"<b>New order</b> (retrieval ranks): {order}<br><b>Why:</b> {html.escape(reranked.explanation, quote=False)}"
