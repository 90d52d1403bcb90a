"""Search the collection with a composed query (image + instruction), an image alone, or a text alone.

The query is embedded by the encoder that made the collection: by default the one its record names, and
an explicitly given encoder must have the same fingerprint, so query and corpus vectors never come from
different spaces. A query image that is stored (the same bytes, or the same path) is left out of its own
results unless ``exclude_query=False``. ``mmrag_lab.search(...)`` and ``mmrag search`` both run
:func:`search`.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from PIL import Image

from mmrag_lab import argtypes, checks
from mmrag_lab.config import Config
from mmrag_lab.encoders import pick_device
from mmrag_lab.encoders.base import Encoder
from mmrag_lab.errors import FilterRefusedError, QueryError, StoreFailedError
from mmrag_lab.images import ImageSource, file_identity, is_content, is_same_file, load_image
from mmrag_lab.retrieval.results import Hit, SearchQuery, SearchResults
from mmrag_lab.store.filters import build_filter, combine
from mmrag_lab.store.schema import CollectionRecord
from mmrag_lab.store.target import target_config
from mmrag_lab.store.vector_store import Store

__all__ = ["Hit", "SearchQuery", "SearchResults", "search"]
MAX_K = 16384  # Milvus' top-k limit


def search(
    image: ImageSource | None = None,
    instruction: str | None = None,
    text: str | None = None,
    *,
    k: int = 9,
    where: Mapping[str, Any] | None = None,
    filter: str | None = None,
    config: Config | None = None,
    encoder: Encoder | None = None,
    store: Store | None = None,
    exclude_query: bool = True,
    collection: str | None = None,
) -> SearchResults:
    """Find the ``k`` images closest to a query.

    Args:
        image: Query image: a path, a PIL image, a numpy array or an image file's bytes. With
            ``instruction``: a composed query.
        instruction: What to change or keep relative to ``image``; without an image it is searched as text.
        text: A text-only query.
        k: Number of hits (1 to 16384).
        where: Keyword filters, built safely; see :mod:`mmrag_lab.store.filters` for the vocabulary, e.g.
            ``{"category": "dress", "path_contains": "shoes", "min_width": 300}``.
        filter: A raw Milvus boolean expression, AND-ed with ``where`` (for experts; passed unchanged).
        config: Settings (URI, collection, device); default ``Config.load()``.
        encoder: A loaded encoder; default: the one that made the collection (cached between calls).
        store: An open store to reuse; default: open one from ``config`` and close it afterwards.
        exclude_query: Leave the query image out of the hits: every stored row with the same bytes (its
            content hash) or the same path. Nobody asking for "the same garment in red" wants the photo
            they gave back. ``False`` keeps it. A text-only query is unaffected.
        collection: Collection name; default ``config.collection`` (a ``store`` given must be open on it).

    Raises:
        QueryError: No query, conflicting query parts, a bad ``k`` or a bad ``where`` filter.
        ConfigError: An argument of the wrong type (named), a text with a lone surrogate, an image path
            that is empty or a URL, or an instruction or text longer than 10,000 characters.
        ImageLoadError: The query image cannot be read.
        CollectionNotFoundError: The collection does not exist (ingest first).
        CollectionMismatchError: ``encoder`` does not match the encoder that made the collection, or the
            collection was not made by mmrag_lab, or must be migrated.
        FilterRefusedError: Milvus refuses the search with the raw ``filter`` (it is sent once); a
            :class:`QueryError` and a :class:`StoreError`.
        StoreError: Milvus refuses the search for another reason.
    """
    argtypes.instance("config", config, Config, "e.g. Config.load(milvus_uri=...)")
    argtypes.instance("store", store, Store, "from Store.open(config)")
    cfg = target_config(config, argtypes.text("collection", collection), store)
    image = argtypes.image("image", image)
    image = (
        os.fsdecode(image) if isinstance(image, bytes) and not is_content(image) else image
    )  # a bytes path
    instruction, text = argtypes.text("instruction", instruction), argtypes.text("text", text)
    argtypes.mapping("where", where, '{"category": "dress"} (parse_where reads KEY=VALUE texts)')
    argtypes.text("filter", filter)
    argtypes.instance(
        "encoder", encoder, Encoder, "from mmrag_lab.load_encoder(...); a preset's name goes in Config"
    )
    argtypes.flag("exclude_query", exclude_query)
    mode, words = _mode(image, instruction, text)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise QueryError(f"k must be a whole number from 1 to {MAX_K}, got {k!r}.")
    checks.instruction("instruction" if mode == "composed" else "text", words)
    if image is not None and not isinstance(image, Image.Image):
        loaded = load_image(image)  # a missing, unreadable or bomb image is refused before any model loads
        if is_content(image) or hasattr(
            image, "__array_interface__"
        ):  # a file's bytes, an array: decoded once
            image = loaded
    if encoder is None:
        pick_device(cfg.device)  # a device that does not exist here is refused before the model loads
    own_store = store is None
    store = store or Store.open(cfg, read_only=True)
    try:
        enc = encoder or encoder_for(store.open_collection("search"), cfg)
        record = store.open_collection("search", enc.info)  # cached: no second round trip
        keywords = build_filter(
            where,
            dialect=store.dialect(),
            metadata_keys=record.metadata_keys,
            metadata_types=record.metadata_types,
        )
        expression = combine(keywords, filter)
        started = time.perf_counter()
        vector = _embed(enc, mode, image, words)
        encoded = time.perf_counter()
        own = file_identity(image) if exclude_query and mode != "text" else None
        try:
            rows = _search_without(store, vector, k, expression or None, own)
        except StoreFailedError as exc:
            if not filter:
                raise
            raise FilterRefusedError(
                f"{exc} Check the raw filter {filter!r} (a Milvus boolean expression, e.g. "
                'meta["category"] == "dress"), or use where= (--where KEY=VALUE), which is built safely.'
            ) from None
        searched = time.perf_counter()
    finally:
        if own_store:
            store.close()
    query = SearchQuery(mode, k, instruction, text, _image_path(image), expression)
    return SearchResults(
        hits=[Hit.from_row(rank, row) for rank, row in enumerate(rows, start=1)],
        query=query,
        encoder=enc.name,
        untrained=bool(enc.untrained or record.untrained),
        collection=store.collection,
        timings={"encode_s": encoded - started, "search_s": searched - encoded},
    )


def _search_without(store: Store, vector, k: int, expression: str | None, own) -> list[dict[str, Any]]:
    """Top ``k`` rows that are not the query: ask for k+1, and for more when its bytes have several names."""
    limit = k + 1 if own else k
    while True:
        rows = store.search(vector, k=limit, filter=expression)[0]
        kept = [row for row in rows if not is_same_file(row, own)]
        if len(kept) >= k or len(rows) < limit or limit >= MAX_K:
            return kept[:k]
        limit = min(MAX_K, limit * 2)


def encoder_for(record: CollectionRecord, config: Config) -> Encoder:
    """The encoder a collection was made with, loaded once per process and reused."""
    local = record.weights == "untrained" or os.path.isfile(record.weights)
    return _load_encoder(record.encoder, record.weights if local else config.weights, config)


@functools.lru_cache(maxsize=2)
def _load_encoder(name: str, weights: str | None, config: Config) -> Encoder:
    from mmrag_lab.encoders import load_encoder

    return load_encoder(name, weights=weights, config=config)


def _mode(image: ImageSource | None, instruction: str | None, text: str | None) -> tuple[str, str]:
    if image is not None:
        if text:
            raise QueryError("text= is for text-only search; with an image, pass the words as instruction=.")
        return ("composed", instruction) if instruction and instruction.strip() else ("image", "")
    if text and instruction:
        raise QueryError("Without an image, give the words as text= or instruction=, not both.")
    words = text or instruction
    if not words or not words.strip():
        raise QueryError("Nothing to search for: give image=, image= with instruction=, or text=.")
    return "text", words


def _embed(encoder: Encoder, mode: str, image: ImageSource | None, words: str) -> np.ndarray:
    if mode == "composed":
        return encoder.encode_queries([image], [words])
    if mode == "image":
        return encoder.encode_images([image])
    return encoder.encode_texts([words])


def _image_path(image: ImageSource | None) -> str | None:
    if image is None or not isinstance(image, (str, os.PathLike)):
        return None
    return os.fspath(image)
