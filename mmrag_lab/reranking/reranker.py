"""The generative reranker: a multimodal chat model reorders the search hits and explains its top pick.

The model sees one panorama (the query in a blue frame, numbered candidates) and the instruction. Whatever
it replies, :func:`rerank` returns a :class:`RerankResult`; a reply that cannot be used, a missing key or an
endpoint that keeps failing leaves the retrieval order in place and says why in ``fallback_reason``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mmrag_lab.config import Config
from mmrag_lab.deprecation import folded, renamed, renamed_key
from mmrag_lab.errors import MmragError
from mmrag_lab.images import ImageSource, file_identity, is_same_file
from mmrag_lab.reranking.cache import ReplyCache, cache_key
from mmrag_lab.reranking.llm import RetryPolicy, Sampling, chat, endpoint_url, make_client
from mmrag_lab.reranking.panorama import PanoramaOptions, build_panorama
from mmrag_lab.reranking.prompt import FIRST_NUMBER, RESPONSE_FORMAT, build_messages, prompt_text
from mmrag_lab.reranking.rerank_args import check_many, check_rerank
from mmrag_lab.reranking.result import RerankResult, fallback, from_reply, split_candidates

__all__ = ["RerankResult", "RetryPolicy", "Sampling", "rerank", "rerank_many"]
log = logging.getLogger(__name__)


@renamed(query_image="image")
@folded("panorama", PanoramaOptions)
def rerank(
    results: Iterable[Any],
    image: ImageSource,
    instruction: str,
    *,
    model: str | None = None,
    base_url: str | None = None,
    config: Config | None = None,
    cache_dir: str | os.PathLike | None = None,
    include_metadata: bool = True,
    timeout: float | None = None,
    max_retries: int | None = None,
    client: Any = None,
    strict: bool = False,
    retry: RetryPolicy | None = None,
    panorama: PanoramaOptions | None = None,
    use_cache: bool = True,
    sampling: Sampling | None = None,
    exclude_query: bool = True,
) -> RerankResult:
    """Ask a multimodal chat model to reorder search hits for a composed query.

    Only the first ``rows * cols`` candidates go into the panorama; any others keep their place after them.

    Args:
        results: A ``SearchResults``, a list of hits (objects with ``path`` and ``meta``), or a list of
            image paths / PIL images.
        image: The query picture (as in :func:`~mmrag_lab.retrieval.query.search`; ``query_image=`` is its
            old name, accepted with a ``DeprecationWarning`` until the next release).
        instruction: What the user wants changed or kept.
        model: Chat model; default ``Config.llm_model`` (``gpt-4o``).
        base_url: OpenAI-compatible endpoint; default ``OPENAI_BASE_URL`` / ``Config.llm_base_url``.
        config: Settings; default ``Config.load()``.
        cache_dir: Folder of cached replies; default ``<Config.cache_dir>/rerank``.
        include_metadata: Add each hit's metadata to the prompt.
        timeout: Seconds per request; default ``Config.llm_timeout``.
        max_retries: Retries on 429, 5xx, timeouts and dropped connections; default ``Config.llm_max_retries``.
        client: A ready ``openai.OpenAI``-compatible client (e.g. ``AzureOpenAI``) to use instead.
        strict: Raise ``RerankError`` (incl. ``AuthenticationError``) and ``ConfigError`` instead of
            falling back. A bad reply never raises.
        retry: Backoff policy; ``max_retries`` wins over its count when both are given.
        panorama: How the panorama is drawn: grid, tile side and byte budget
            (:class:`~mmrag_lab.reranking.panorama.PanoramaOptions`; default a 3x3 grid of 300-pixel tiles
            under 400 kB). ``grid=``, ``tile=`` and ``max_bytes=`` as keywords of their own still work until
            the next release, with a ``DeprecationWarning``.
        use_cache: Read and write the reply cache.
        sampling: Temperature, max tokens and seed; default :class:`~mmrag_lab.reranking.llm.Sampling`
            (temperature 0, 800 tokens, seed 0).
        exclude_query: Drop candidates that are the query image itself (same bytes or same path), so it
            never takes a panorama slot; ``False`` keeps them.

    Raises:
        ImageLoadError: The query image cannot be read (unreadable candidates become grey tiles).
    """
    image, layout = check_rerank(locals())
    cfg = config or Config.load()
    if exclude_query:
        own = file_identity(image)
        results = [item for item in results if not is_same_file(item, own)]
    items, sources, metas = split_candidates(results)
    cells = min(len(items), layout.grid[0] * layout.grid[1])
    if cells == 0:
        return fallback(items, "there are no candidates to rerank")
    model = model or cfg.llm_model
    drawn = build_panorama(
        image, sources[:cells], grid=layout.grid, tile=layout.tile, max_bytes=layout.max_bytes,
        skip_unreadable=True, start_index=FIRST_NUMBER,
    )  # fmt: skip
    text = prompt_text(instruction, cells, metas[:cells] if include_metadata else None)
    request = {
        "messages": build_messages(text, drawn.data_url()),
        "response_format": RESPONSE_FORMAT,
        **(sampling or Sampling()).fields(),
    }
    key = cache_key(endpoint_url(client, base_url or cfg.llm_base_url), model, request)
    cache = ReplyCache(Path(cache_dir) if cache_dir else Path(cfg.cache_dir) / "rerank")
    started = time.perf_counter()
    reply = cache.load(key) if use_cache else None
    cached = reply is not None
    if reply is None:
        policy = retry or RetryPolicy(max_retries=cfg.llm_max_retries)
        if max_retries is not None:
            policy = RetryPolicy(max_retries, policy.backoff_s, policy.max_wait_s)
        try:
            client = client or make_client(cfg, base_url=base_url, timeout=timeout)
            reply = chat(client, model, request, retry=policy)
        except MmragError as exc:
            if strict:
                raise
            log.info("rerank fell back to retrieval order: %s", exc)
            return fallback(items, str(exc), model, drawn, time.perf_counter() - started)
    result = from_reply(items, cells, reply, drawn, cached, time.perf_counter() - started)
    if result.ok and not cached and use_cache:
        cache.store(key, reply, text)
    log.info("rerank %s: %d candidates in %.2fs, cached=%s, fallback=%s", result.model, len(items),
             result.latency_s, cached, result.fallback_reason)  # fmt: skip
    return result


def rerank_many(
    queries: Sequence[Mapping[str, Any] | tuple], *, concurrency: int = 4, **kwargs: Any
) -> list[RerankResult]:
    """Rerank several queries with at most ``concurrency`` requests in flight; results keep input order.

    Args:
        queries: Each a ``(results, image, instruction)`` tuple or a mapping with those keys (the old key
            ``query_image`` is read as ``image``, with a ``DeprecationWarning``).
        concurrency: Threads (and so simultaneous requests) at most.
        **kwargs: Passed on to :func:`rerank` for every query.

    A query whose image cannot be read gets a fallback result naming the problem; the others go on.
    """
    concurrency = check_many(queries, concurrency)
    cfg = kwargs.pop("config", None) or Config.load()
    if kwargs.get("client") is None:
        try:  # one client, so one connection pool, for all threads
            kwargs["client"] = make_client(
                cfg, base_url=kwargs.get("base_url"), timeout=kwargs.get("timeout")
            )
        except MmragError:
            pass  # each rerank() records the same configuration problem as its fallback reason

    def one(query: Mapping[str, Any] | tuple) -> RerankResult:
        names = ("results", "image", "instruction")
        args = query if isinstance(query, Mapping) else dict(zip(names, query))
        args = renamed_key("rerank_many(queries)", args, "query_image", "image")
        try:
            return rerank(*(args[name] for name in names), config=cfg, **kwargs)
        except MmragError as exc:
            if kwargs.get("strict"):
                raise
            return fallback(list(args["results"]), str(exc))

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        return list(pool.map(one, queries))
