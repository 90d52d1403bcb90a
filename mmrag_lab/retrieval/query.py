"""Search the collection with a composed query (image + instruction), an image alone, or a text alone.

The query is embedded by the encoder that made the collection: by default the one its record names, and
an explicitly given encoder must have the same fingerprint, so query and corpus vectors never come from
different spaces. A query image that is stored (the same bytes, or the same path) is left out of its own
results unless ``exclude_query=False``. Keywords are fused with the query by Milvus's ``hybrid_search``
(:mod:`.fusion`); liked and unliked rows move the query vector (Rocchio, :mod:`.feedback`), and
``SearchResults.refine`` runs the next round. ``mmrag_lab.search(...)`` and ``mmrag search`` both run
:func:`search`.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from PIL import Image

from mmrag_lab import argtypes, checks
from mmrag_lab.config import Config
from mmrag_lab.encoders import pick_device
from mmrag_lab.encoders.base import Encoder
from mmrag_lab.errors import ConfigError, FilterRefusedError, QueryError, StoreFailedError
from mmrag_lab.images import ImageSource, file_identity, is_content, load_image
from mmrag_lab.retrieval.feedback import ROCCHIO, judged_rows, vectors
from mmrag_lab.retrieval.fusion import MAX_K, Fusion, find_rows
from mmrag_lab.retrieval.results import Hit, SearchQuery, SearchResults
from mmrag_lab.store.filters import build_filter, combine
from mmrag_lab.store.rows import in_filter
from mmrag_lab.store.schema import CollectionRecord
from mmrag_lab.store.target import target_config
from mmrag_lab.store.vector_store import Store

__all__ = ["MAX_K", "Hit", "SearchQuery", "SearchResults", "search"]


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
    keywords: str | None = None,
    fusion: str = "rrf",
    like: Sequence[Any] = (),
    unlike: Sequence[Any] = (),
    keep_judged: bool = False,
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
        keywords: Words searched by BM25 in the collection's text field (made at ingest with
            ``text_fields``), fused with the query vector by Milvus's ``hybrid_search``; alone, plain BM25.
        fusion: ``"rrf"`` (default), ``"rrf:C"`` or ``"weighted:W"`` (W: the keywords' weight, 1 = BM25
            alone); see :mod:`mmrag_lab.retrieval.fusion`.
        like: Rows to move toward (stored paths, row ids or hits); alone, "more like this".
        unlike: Rows to move away from (Rocchio; see :mod:`mmrag_lab.retrieval.feedback`).
        keep_judged: Keep liked and unliked rows among the hits (default: left out).

    Raises:
        QueryError: No query, conflicting query parts, a bad ``k``, ``where`` or ``fusion``, or a judged
            row that is not stored.
        ConfigError: An argument of the wrong type (named), a text with a lone surrogate, an image path
            that is empty or a URL, or an instruction or text longer than 10,000 characters.
        TextSearchUnsupportedError: ``keywords`` on a backend without BM25 (the Milvus 2.3 server).
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
    keywords = argtypes.text("keywords", keywords)
    argtypes.mapping("where", where, '{"category": "dress"} (parse_where reads KEY=VALUE texts)')
    argtypes.text("filter", filter)
    argtypes.instance(
        "encoder", encoder, Encoder, "from mmrag_lab.load_encoder(...); a preset's name goes in Config"
    )
    argtypes.flag("exclude_query", exclude_query)
    argtypes.flag("keep_judged", keep_judged)
    like, unlike = _judgements("like", like), _judgements("unlike", unlike)
    mode, words = _mode(image, instruction, text, bool(keywords and keywords.strip()), bool(like))
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise QueryError(f"k must be a whole number from 1 to {MAX_K}, got {k!r}.")
    if words:
        checks.instruction("instruction" if mode == "composed" else "text", words)
    if keywords:
        checks.instruction("keywords", keywords)
    if image is not None and not isinstance(image, Image.Image):
        loaded = load_image(image)  # a missing, unreadable or bomb image is refused before any model loads
        if is_content(image) or hasattr(
            image, "__array_interface__"
        ):  # a file's bytes, an array: decoded once
            image = loaded
    if encoder is None and mode not in ("keywords", "feedback"):
        pick_device(cfg.device)  # a device that does not exist here is refused before the model loads
    asked = Asked(
        mode, words, image, instruction, text, (keywords or "").strip() or None, Fusion.parse(fusion),
        where, filter, k, exclude_query, cfg, encoder, tuple(like), tuple(unlike), keep_judged,
    )  # fmt: skip
    return _run(asked, store)


@dataclass(frozen=True)
class Asked:
    """Everything one search was asked, kept by its results so that ``refine()`` can ask again."""

    mode: str
    words: str
    image: Any
    instruction: str | None
    text: str | None
    keywords: str | None
    fusion: Fusion
    where: Mapping[str, Any] | None
    filter: str | None
    k: int
    exclude_query: bool
    config: Config
    encoder: Encoder | None
    like: tuple[Any, ...] = ()
    unlike: tuple[Any, ...] = ()
    keep_judged: bool = False
    round: int = 0
    vector: np.ndarray | None = None  # the query's own vector, once embedded (refine does not embed again)


def _run(asked: Asked, store: Store | None) -> SearchResults:
    own_store = store is None
    store = store or Store.open(asked.config, read_only=True)
    try:
        record = store.open_collection("search")
        if asked.keywords:
            store.require_text_field("--keywords")
        dense = asked.mode not in ("keywords", "feedback")
        enc = asked.encoder or (encoder_for(record, asked.config) if dense else None)
        if enc is not None:
            record = store.open_collection("search", enc.info)  # cached: no second round trip
        expression = combine(
            build_filter(
                asked.where, dialect=store.dialect(), metadata_keys=record.metadata_keys,
                metadata_types=record.metadata_types,
            ),
            asked.filter,
        )  # fmt: skip
        shown_filter = expression
        started = time.perf_counter()
        if dense and asked.vector is None:
            asked = replace(asked, vector=_embed(enc, asked.mode, asked.image, asked.words)[0])
        encoded = time.perf_counter()
        liked = judged_rows(store, asked.like, "--like") if asked.like else []
        unliked = judged_rows(store, asked.unlike, "--unlike") if asked.unlike else []
        vector = asked.vector
        if liked or unliked:
            vector = ROCCHIO.move(vector, vectors(liked, record.dim), vectors(unliked, record.dim))
        judged = {str(row["id"]): "liked" for row in liked} | {str(row["id"]): "unliked" for row in unliked}
        if judged and not asked.keep_judged:
            expression = combine(f"not ({in_filter(sorted(judged))})", expression)
        own = file_identity(asked.image) if asked.exclude_query and asked.image is not None else None
        rows = _find(store, vector, asked, expression or None, own)
        searched = time.perf_counter()
    finally:
        if own_store:
            store.close()
    timings = {"encode_s": encoded - started, "search_s": searched - encoded}
    results = _results(asked, record, enc, store, rows, judged, shown_filter, timings)
    results._refiner = functools.partial(_refine, asked, None if own_store else store)
    return results


def _refine(asked: Asked, store: Store | None, results: SearchResults, like, unlike, keep: bool):
    """The next round of ``results``: its judgements and these, from the same query vector."""
    like, unlike = [getattr(r, "id", r) for r in like], [getattr(r, "id", r) for r in unlike]
    liked = list(dict.fromkeys(ref for ref in (*results.liked, *like) if ref not in unlike))
    unliked = list(dict.fromkeys(ref for ref in (*results.unliked, *unlike) if ref not in like))
    for name, refs in (("like", liked), ("unlike", unliked)):
        _judgements(name, refs)
    moved = replace(
        asked, like=tuple(liked), unlike=tuple(unliked), keep_judged=keep, round=results.round + 1
    )
    return _run(moved, store)


def _find(store: Store, vector, asked: Asked, expression: str | None, own) -> list[dict[str, Any]]:
    try:
        return find_rows(store, vector, asked.keywords, asked.k, expression, asked.fusion, own)
    except StoreFailedError as exc:
        if not asked.filter:
            raise
        raise FilterRefusedError(
            f"{exc} Check the raw filter {asked.filter!r} (a Milvus boolean expression, e.g. "
            'meta["category"] == "dress"), or use where= (--where KEY=VALUE), which is built safely.'
        ) from None


def _results(asked: Asked, record, enc, store: Store, rows, judged, shown_filter, timings) -> SearchResults:
    for row in rows:
        row["judgement"] = judged.get(str(row["id"]), "")
    fused = asked.keywords and (asked.vector is not None or asked.like)
    query = SearchQuery(
        asked.mode, asked.k, asked.instruction, asked.text, _image_path(asked.image), shown_filter,
        asked.keywords, asked.fusion.label if fused else None,
    )  # fmt: skip
    return SearchResults(
        hits=[Hit.from_row(rank, row) for rank, row in enumerate(rows, start=1)],
        query=query,
        encoder=enc.name if enc is not None else record.encoder,
        untrained=bool((enc is not None and enc.untrained) or record.untrained),
        collection=store.collection,
        timings=timings,
        round=asked.round,
        liked=[key for key, kind in judged.items() if kind == "liked"],
        unliked=[key for key, kind in judged.items() if kind == "unliked"],
    )


def encoder_for(record: CollectionRecord, config: Config) -> Encoder:
    """The encoder a collection was made with, loaded once per process and reused."""
    local = record.weights == "untrained" or os.path.isfile(record.weights)
    return _load_encoder(record.encoder, record.weights if local else config.weights, config)


@functools.lru_cache(maxsize=2)
def _load_encoder(name: str, weights: str | None, config: Config) -> Encoder:
    from mmrag_lab.encoders import load_encoder

    return load_encoder(name, weights=weights, config=config)


def _mode(
    image: ImageSource | None, instruction: str | None, text: str | None, keywords: bool, liked: bool
) -> tuple[str, str]:
    if image is not None:
        if text:
            raise QueryError("text= is for text-only search; with an image, pass the words as instruction=.")
        return ("composed", instruction) if instruction and instruction.strip() else ("image", "")
    if text and instruction:
        raise QueryError("Without an image, give the words as text= or instruction=, not both.")
    words = text or instruction
    if words and words.strip():
        return "text", words
    if keywords or liked:
        return ("keywords" if keywords else "feedback"), ""
    raise QueryError(
        "Nothing to search for: give image=, image= with instruction=, text=, keywords= or like=."
    )


def _judgements(name: str, refs: Any) -> list[Any]:
    """``like``/``unlike`` as a list: one path, id or hit, or a list of them."""
    if refs is None:
        return []
    items = [refs] if isinstance(refs, (str, os.PathLike)) or hasattr(refs, "id") else refs
    if not isinstance(items, (list, tuple)):
        raise ConfigError(f"{name} takes stored paths, row ids or hits (a list); got {refs!r}.")
    for item in items:
        if not isinstance(item, (str, os.PathLike)) and not hasattr(item, "id"):
            raise ConfigError(f"{name} takes stored paths, row ids or hits; got {item!r} in it.")
    return list(items)


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
