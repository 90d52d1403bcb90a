"""The app as one page: what ``notebooks/app.ipynb`` shows, and so what ``mmrag app`` serves with Voilà.

The page is :class:`~mmrag_lab.workbench.widgets.search_app.SearchApp` on the configured collection (``MMRAG_*`` from the
server's environment), with the compare view of two collections in a second tab when the URI holds more
than one. A missing or empty collection gives a notice that says what to do, not a traceback.
"""

from __future__ import annotations

import html
from pathlib import Path

import ipywidgets as widgets

from mmrag_lab.config import Config
from mmrag_lab.store.clients import display_uri
from mmrag_lab.store.vector_store import Store
from mmrag_lab.workbench.serving.page_guard import guarded, message_box
from mmrag_lab.workbench.widgets.compare_app import CompareApp
from mmrag_lab.workbench.widgets.compare_backend import list_collections
from mmrag_lab.workbench.widgets.search_app import SearchApp


def app_page(config: Config | None = None, *, images_dir: str | Path | None = None, k: int = 9,
             instruction: str = "") -> widgets.Widget:  # fmt: skip
    """The page's root widget; never raises (see :func:`~mmrag_lab.workbench.serving.page_guard.guarded`).

    Args:
        config: Settings; default ``Config.load()`` (the environment).
        images_dir: A folder to pick query images from; default: the images in the collection.
        k: Initial number of hits.
        instruction: Initial instruction.
    """
    return guarded(lambda: _build(config or Config.load(), images_dir, k, instruction), "Starting the app")


def _build(config: Config, images_dir: str | Path | None, k: int, instruction: str) -> widgets.Widget:
    with Store.open(config) as store:
        count = store.count() if store.exists() else None
    name, where = config.collection, display_uri(config.milvus_uri)
    if count is None:
        return message_box(
            "No collection to search yet",
            f"The collection {name!r} does not exist{_on(where)}. Ingest images first (`mmrag ingest "
            f"IMAGES_DIR --collection {name}`, or notebook 01_ingest), then reload this page.",
            "warning",
        )
    if count == 0:
        return message_box(
            "The collection is empty",
            f"The collection {name!r}{_on(where)} holds no images. Ingest some (`mmrag ingest IMAGES_DIR "
            f"--collection {name}`), then reload this page.",
            "warning",
        )
    header = widgets.HTML(
        f"<h2>Search {html.escape(name)}</h2><p>{count} images, encoder {html.escape(config.encoder)}. "
        "Upload or pick a query image, type what to change (and keywords, if the collection has text), "
        "press Search, then Rerank; mark hits like or unlike and press Refine for the next round.</p>"
    )
    search = SearchApp(config, images_dir=images_dir, k=k, instruction=instruction)
    if len(list_collections(config)) < 2:
        return widgets.VBox([header, search.ui])
    tabs = widgets.Tab([search.ui, CompareApp(config, images_dir=images_dir, instruction=instruction).ui])
    tabs.titles = ("Search and rerank", "Compare")
    return widgets.VBox([header, tabs])


def _on(where: str) -> str:
    return f" on {where}"
