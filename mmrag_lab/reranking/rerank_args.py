"""The types of :func:`~mmrag_lab.reranking.reranker.rerank`'s and ``rerank_many``'s arguments, checked
before a panorama is drawn or a request is sent: ``rerank(results=5)``, ``grid="3x3"`` or a query image
given as an int is one :class:`~mmrag_lab.errors.ConfigError` naming the argument (see
:mod:`mmrag_lab.argtypes`), whatever ``strict`` says: a wrong call is the caller's to fix, not a reply to
fall back from."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from mmrag_lab import argtypes, checks
from mmrag_lab.config import Config
from mmrag_lab.errors import ConfigError
from mmrag_lab.images import is_content
from mmrag_lab.reranking.panorama import PanoramaOptions

FLAGS = ("include_metadata", "strict", "use_cache", "exclude_query")
TEXTS = ("model", "base_url")
MAX_GRID = 40  # rows of a top-100 A/B grid (3 columns)


def check_rerank(given: Mapping[str, Any]) -> tuple[Any, PanoramaOptions]:
    """Refuse the first argument of ``rerank`` whose type or range cannot work; returns the query image
    (a path given as bytes becomes a ``str``) and the panorama's options as whole numbers."""
    results = given["results"]
    if not isinstance(results, Iterable) or isinstance(results, (str, bytes, Mapping)):
        raise ConfigError(
            f"results must be SearchResults, or a list of hits or image paths; got {argtypes.given(results)}."
        )
    image = argtypes.image("image", given["image"])
    if image is None:
        raise ConfigError(f"image (the query picture) is required: {argtypes.IMAGE_KINDS}.")
    argtypes.text("instruction", given["instruction"], optional=False)
    for name in TEXTS:
        argtypes.text(name, given[name])
    for name in FLAGS:
        argtypes.flag(name, given[name])
    argtypes.instance("config", given["config"], Config, "e.g. Config.load(...)")
    argtypes.local_path("cache_dir", given["cache_dir"], optional=True, output=True)
    if given["timeout"] is not None:
        checks.seconds("timeout", given["timeout"])
    if given["max_retries"] is not None:
        checks.whole_number("max_retries", given["max_retries"], low=0, high=20)
    argtypes.instance("panorama", given["panorama"], PanoramaOptions, "e.g. PanoramaOptions(grid=(3, 3))")
    layout = given["panorama"] or PanoramaOptions()
    grid = layout.grid
    if not isinstance(grid, (tuple, list)) or len(grid) != 2:
        raise ConfigError(f"grid must be (rows, cols), e.g. (3, 3); got {argtypes.given(grid)}.")
    layout = PanoramaOptions(
        grid=tuple(checks.whole_number("grid (rows, cols)", part, high=MAX_GRID) for part in grid),
        tile=checks.whole_number("tile (pixels)", layout.tile, low=32, high=2048),
        max_bytes=checks.whole_number("max_bytes", layout.max_bytes, low=10_000, high=20_000_000),
    )
    return (os.fsdecode(image) if isinstance(image, bytes) and not is_content(image) else image), layout


def check_many(queries: Any, concurrency: Any) -> int:
    """``rerank_many``'s queries are a list of ``(results, image, instruction)`` or such mappings;
    returns ``concurrency`` as an int."""
    threads = checks.whole_number("concurrency", concurrency, high=64)
    shaped = lambda q: (isinstance(q, (tuple, list)) and len(q) == 3) or isinstance(q, Mapping)  # noqa: E731
    if not isinstance(queries, (list, tuple)) or not all(shaped(q) for q in queries):
        raise ConfigError(
            "queries must be a list of (results, image, instruction) tuples or of mappings with those "
            f"keys; got {argtypes.given(queries)}."
        )
    return threads
