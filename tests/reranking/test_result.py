"""What the reranker hands back: candidates split into pictures and metadata, a reply made into an order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from mmrag_lab.reranking.llm import ChatReply, Usage
from mmrag_lab.reranking.panorama import build_panorama
from mmrag_lab.reranking.result import fallback, from_reply, split_candidates
from mmrag_lab.retrieval.results import Hit


@pytest.fixture(scope="module")
def photos(sample_dir) -> list[str]:
    return sorted(str(p) for p in sample_dir.rglob("*.jpg"))[:6]


def _reply(text: str) -> ChatReply:
    return ChatReply(text, "gpt-test", Usage(10, 2, 12), 0.5, attempts=1, structured=True)


def test_candidates_are_hits_paths_or_pictures(photos):
    picture = Image.new("RGB", (4, 4))
    hit = Hit(rank=1, id="a", path=photos[0], score=0.9, meta={"title": "Red dress"})
    items, sources, metas = split_candidates([hit, Path(photos[1]), picture])
    assert items[0] is hit and sources == [photos[0], Path(photos[1]), picture]
    assert metas == [{"title": "Red dress"}, {}, {}]
    with pytest.raises(TypeError, match="cannot rerank a int: give search hits, paths or PIL images"):
        split_candidates([3])


def test_a_reply_orders_the_ranked_cells_and_the_rest_follow(photos):
    items = photos[1:6]
    panorama = build_panorama(photos[0], items[:3], grid=(1, 3), tile=64)
    reply = _reply(json.dumps({"ranking": [3, 1, 2], "explanation": "the third is red"}))
    result = from_reply(items, 3, reply, panorama, cached=True, latency=0.01)
    assert result.ok and result.order == [2, 0, 1, 3, 4] and result.hits == [items[i] for i in result.order]
    assert result.explanation == "the third is red" and result.cached and result.model == "gpt-test"
    assert result.issues == ["only the first 3 candidates were ranked; the other 2 follow"]
    record = result.to_dict()
    assert record["hits"] == [items[i] for i in result.order] and record["usage"]["total_tokens"] == 12
    assert json.loads(json.dumps(record)) == record


def test_an_unusable_reply_keeps_the_retrieval_order(photos):
    panorama = build_panorama(photos[0], photos[1:3], grid=(1, 2), tile=64)
    result = from_reply(photos[1:3], 2, _reply("I like the second"), panorama, cached=False, latency=1.0)
    assert not result.ok and result.order == [0, 1] and result.explanation == ""
    assert result.raw == "I like the second"


def test_fallback_keeps_the_order_and_says_why():
    picture = Image.new("RGB", (8, 6))
    result = fallback(["a.jpg", picture], "endpoint timed out", model="m")
    assert result.order == [0, 1] and result.fallback_reason == "endpoint timed out" and not result.ok
    assert result.to_dict()["hits"] == ["a.jpg", "<image 8x6>"]
