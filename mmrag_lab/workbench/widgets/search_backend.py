"""The work behind :class:`mmrag_lab.workbench.widgets.search_app.SearchApp`: listing query candidates, searching, reranking.

Kept apart from the widgets so that the same calls serve the notebooks and tests, and so that the app
itself only arranges controls and messages.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mmrag_lab.config import Config
from mmrag_lab.errors import ConfigError, StoreError
from mmrag_lab.images import ImageSource
from mmrag_lab.ingestion.scan import list_images
from mmrag_lab.store.vector_store import Store
from mmrag_lab.store.where import parse_where

MAX_CHOICES = 1000
_PAIR = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*=\s*([^=<>!]+?)\s*$")


def folder_images(folder: str | Path, limit: int = MAX_CHOICES) -> list[str]:
    """Image files under ``folder`` (:func:`~mmrag_lab.ingestion.scan.list_images`), at most ``limit``.

    Raises:
        ConfigError: The folder does not exist.
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise ConfigError(f"Image folder {root} does not exist; pass an existing images_dir.")
    return [str(p) for p in list_images(root)[:limit]]


def folder_choices(folder: str | Path, limit: int = MAX_CHOICES) -> list[tuple[str, str]]:
    """``(label, path)`` pairs for the pick list: file names, with the folder added where names repeat."""
    return choices([(path, None) for path in folder_images(folder, limit)])


def choices(items: list[tuple[str, str | None]]) -> list[tuple[str, str]]:
    """Short, unique labels for ``(path, title)`` items: the title when there is one, else the file name."""
    labels = [title or Path(path).name for path, title in items]
    repeated = {label for label in labels if labels.count(label) > 1}
    out = []
    for (path, _title), label in zip(items, labels):
        if label in repeated:
            label = f"{label} ({Path(path).parent.name}/{Path(path).name})"
        out.append((label, path))
    return sorted(out, key=lambda pair: pair[0].lower())


def parse_filter(text: str | None) -> tuple[dict[str, Any] | None, str | None]:
    """Split the app's filter box into keyword filters or a raw Milvus expression.

    ``category=dress, min_width=300`` becomes ``where={"category": "dress", "min_width": 300}``, read by
    :func:`~mmrag_lab.store.where.parse_where` exactly as ``mmrag search --where`` reads its pairs (and
    built safely by :mod:`mmrag_lab.store.filters`); anything else, e.g. ``meta["category"] == "dress"``, is
    passed as a raw expression.

    Raises:
        QueryError: A size key's value is not a whole number.
    """
    text = (text or "").strip()
    if not text:
        return None, None
    parts = text.split(",")
    if all(_PAIR.match(part) for part in parts):
        return parse_where(parts), None
    return None, text


class AppBackend:
    """Runs searches and reranks for the app against one collection.

    Args:
        config: Settings (URI, collection, LLM model and endpoint).
    """

    def __init__(self, config: Config):
        self.config = config

    def collection_choices(self, limit: int = MAX_CHOICES) -> list[tuple[str, str]]:
        """``(label, path)`` of the images stored in the collection, at most ``limit``; labels are the
        metadata titles where there are some, else file names (see :func:`choices`)."""
        with Store.open(self.config) as store:
            if not store.exists():
                return []
            store.load()
            items = []
            for row in store.iterate(("path", "meta")):
                items.append((row["path"], (row.get("meta") or {}).get("title")))
                if len(items) >= limit:
                    break
        return choices(items)

    def search(self, query: ImageSource | None, instruction: str, k: int, filter_text: str | None = None,
               keywords: str | None = None) -> Any:  # fmt: skip
        """A composed search (an image search when the instruction is empty), fused with ``keywords``
        (BM25) when given; keywords alone, without a query image, are a plain BM25 search.

        Raises:
            StoreError: The collection is missing or empty; the message says to ingest first.
        """
        from mmrag_lab.retrieval.query import search

        where, raw = parse_filter(filter_text)
        with Store.open(self.config) as store:
            if store.exists() and store.count() == 0:
                raise StoreError(
                    f"The collection {store.collection!r} is empty. Ingest images first (notebook "
                    "01_ingest, or `mmrag ingest IMAGES_DIR`)."
                )
            return search(image=query, instruction=(instruction or None) if query is not None else None,
                          k=k, where=where, filter=raw, config=self.config, store=store,
                          keywords=keywords)  # fmt: skip

    def refine(self, results: Any, liked: list[Any], unliked: list[Any], order: list[Any]) -> Any:
        """The next round of ``results`` (Rocchio), with judgements made on ``order`` (the grid shown)."""
        return results.refine(like=liked, unlike=unliked, order=order)

    def rerank(self, results: Any, query: ImageSource, instruction: str) -> Any:
        """Rerank ``results``; without a key or endpoint this returns the retrieval order with the reason."""
        from mmrag_lab.reranking.reranker import rerank

        return rerank(results, query, instruction, config=self.config)
