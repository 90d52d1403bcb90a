"""What the reranker hands back, and how candidates and replies become one."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from mmrag_lab.images import ImageSource
from mmrag_lab.reranking.llm import ChatReply, Usage
from mmrag_lab.reranking.panorama import Panorama
from mmrag_lab.reranking.parse import parse_ranking
from mmrag_lab.reranking.prompt import FIRST_NUMBER


@dataclass
class RerankResult:
    """What the reranker decided.

    Attributes:
        order: Candidate indices (retrieval positions), best first; a permutation of all candidates.
        hits: The candidates themselves in the new order (the search hits, or the paths/images given).
        explanation: The model's reason for the top pick ("" on fallback).
        raw: The model's reply text as received ("" when no reply came).
        model: The model that answered (as the endpoint names it) or the one asked for.
        latency_s: Seconds spent on this call, retries included (near zero for a cache hit).
        usage: Token counts of the reply; for a cache hit, those of the original call (no new cost).
        cached: True when the reply came from the disk cache.
        fallback_reason: Why the retrieval order was kept, or None when the model's ranking was used.
        issues: Repairs made to a usable reply (ignored or appended numbers, unreadable candidates).
        panorama: The picture that was sent (None when no picture could be built).
    """

    order: list[int]
    hits: list[Any]
    explanation: str = ""
    raw: str = ""
    model: str = ""
    latency_s: float = 0.0
    usage: Usage = field(default_factory=Usage)
    cached: bool = False
    fallback_reason: str | None = None
    issues: list[str] = field(default_factory=list)
    panorama: Panorama | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """True when the order comes from the model."""
        return self.fallback_reason is None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (the panorama and any PIL image are left out)."""
        return {
            "order": list(self.order),
            "hits": [_hit_record(hit) for hit in self.hits],
            "explanation": self.explanation,
            "raw": self.raw,
            "model": self.model,
            "latency_s": self.latency_s,
            "usage": vars(self.usage),
            "cached": self.cached,
            "fallback_reason": self.fallback_reason,
            "issues": list(self.issues),
        }


def split_candidates(results: Iterable[Any]) -> tuple[list[Any], list[ImageSource], list[dict]]:
    """The candidates, the picture of each, and the metadata of each (empty for bare paths/images)."""
    items = list(results)
    sources: list[ImageSource] = []
    metas: list[dict] = []
    for item in items:
        if isinstance(item, (str, os.PathLike, Image.Image)):
            sources.append(item)
            metas.append({})
        elif getattr(item, "path", None) is not None:
            sources.append(item.path)
            metas.append(dict(getattr(item, "meta", None) or {}))
        else:
            raise TypeError(f"cannot rerank a {type(item).__name__}: give search hits, paths or PIL images")
    return items, sources, metas


def from_reply(
    items: list[Any], cells: int, reply: ChatReply, panorama: Panorama, cached: bool, latency: float
) -> RerankResult:
    """Validate the reply's ranking of the first ``cells`` candidates; the rest keep their order."""
    parsed = parse_ranking(reply.text, cells, first=FIRST_NUMBER)
    issues = list(parsed.issues)
    if panorama.layout.unreadable:
        shown = [i + FIRST_NUMBER for i in panorama.layout.unreadable]
        issues.append(f"candidates drawn as unreadable: {shown}")
    if len(items) > cells:
        issues.append(f"only the first {cells} candidates were ranked; the other {len(items) - cells} follow")
    order = parsed.order + list(range(cells, len(items)))
    return RerankResult(
        order=order,
        hits=[items[i] for i in order],
        explanation=parsed.explanation if parsed.fallback_reason is None else "",
        raw=reply.text,
        model=reply.model,
        latency_s=latency,
        usage=reply.usage,
        cached=cached,
        fallback_reason=parsed.fallback_reason,
        issues=issues,
        panorama=panorama,
    )


def fallback(
    items: list[Any], reason: str, model: str = "", panorama: Panorama | None = None, latency: float = 0.0
) -> RerankResult:
    """The retrieval order, kept because of ``reason``."""
    order = list(range(len(items)))
    return RerankResult(
        order, list(items), model=model, latency_s=latency, fallback_reason=reason, panorama=panorama
    )


def _hit_record(hit: Any) -> Any:
    for name in ("to_dict", "as_dict"):
        if callable(getattr(hit, name, None)):
            return getattr(hit, name)()
    if isinstance(hit, Image.Image):
        return f"<image {hit.width}x{hit.height}>"
    if isinstance(hit, (str, os.PathLike)):
        return os.fspath(hit)
    return json.loads(json.dumps(hit, default=str))
