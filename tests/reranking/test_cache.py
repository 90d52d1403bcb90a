"""The disk cache of reranker replies: keyed by endpoint, model and request; a bad file is a miss."""

from __future__ import annotations

import json
import logging

from mmrag_lab.reranking.cache import ReplyCache, cache_key
from mmrag_lab.reranking.llm import ChatReply, Usage

REQUEST = {"messages": [{"role": "user", "content": "rank"}], "temperature": 0.0, "seed": 7}
REPLY = ChatReply('{"ranking": [2, 1]}', "gpt-test", Usage(100, 10, 110), 1.5, attempts=2, structured=True)


def test_the_key_changes_with_endpoint_model_and_request_but_not_a_trailing_slash():
    key = cache_key("http://a/v1", "m", REQUEST)
    assert len(key) == 64 and key == cache_key("http://a/v1/", "m", dict(reversed(REQUEST.items())))
    assert key != cache_key("http://b/v1", "m", REQUEST) and key != cache_key("http://a/v1", "m2", REQUEST)
    assert key != cache_key("http://a/v1", "m", {**REQUEST, "seed": 8})


def test_a_stored_reply_comes_back_without_the_endpoint(tmp_path):
    cache = ReplyCache(tmp_path / "cache")
    key = cache_key("http://secret-host:9/v1", "gpt-test", REQUEST)
    assert cache.load(key) is None
    cache.store(key, REPLY, prompt="rank these")
    loaded = cache.load(key)
    assert loaded == ChatReply(REPLY.text, "gpt-test", Usage(100, 10, 110), 1.5, attempts=0, structured=True)
    text = cache.path(key).read_text()
    assert "secret-host" not in text and json.loads(text)["prompt"] == "rank these"
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [f"{key}.json"]  # no temporary file left


def test_a_corrupt_file_is_a_miss_with_a_warning(tmp_path, caplog):
    cache = ReplyCache(tmp_path)
    cache.path("k").write_text('{"text": "x"')
    with caplog.at_level(logging.WARNING):
        assert cache.load("k") is None
    assert "ignoring unreadable rerank cache file" in caplog.text


def test_a_folder_that_cannot_be_written_is_logged_not_raised(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("")
    cache = ReplyCache(blocker / "cache")
    with caplog.at_level(logging.WARNING):
        cache.store("k", REPLY, prompt="p")
    assert "could not write rerank cache file" in caplog.text and cache.load("k") is None
