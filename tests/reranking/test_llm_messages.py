"""What the reranker says when an endpoint fails: the URL without secrets, never the key."""

from __future__ import annotations

import httpx
import openai

from mmrag_lab.reranking import llm_messages

KEY = "-".join(["sk", "test", "0123456789abcdef"])  # a made-up key, built so it is not mistaken for one


def _client(**kwargs) -> openai.OpenAI:
    options = {"api_key": KEY, "base_url": "https://user:pw@llm.example.com/v1?key=zzz", "timeout": 12.5}
    return openai.OpenAI(**{**options, **kwargs})


def test_the_endpoint_is_shown_without_credentials_or_query_values():
    assert llm_messages.public_url(_client()) == "https://llm.example.com/v1/?key=***"


def test_a_failure_is_described_without_the_key():
    client = _client()
    request = httpx.Request("POST", "https://llm.example.com/v1/chat/completions")
    rejected = openai.AuthenticationError(
        f"Incorrect API key provided: {KEY}", response=httpx.Response(401, request=request), body=None
    )
    text = llm_messages.describe(client, rejected)
    assert text.startswith("HTTP 401: ") and KEY not in text and "***" in text
    message = llm_messages.auth_message(client, rejected)
    assert "https://llm.example.com/v1/?key=***" in message and "Set OPENAI_API_KEY" in message
    assert KEY not in message and "pw" not in message.split("rejected")[0]
    assert llm_messages.describe(client, ValueError("bad")) == "ValueError: bad"


def test_redact_hides_the_key_and_its_long_prefix_only_when_long_enough():
    assert llm_messages.redact(f"key {KEY} or {KEY[:12]}...", KEY) == "key *** or ***..."
    assert llm_messages.redact("short abc", "abc") == "short abc" and llm_messages.redact("x", None) == "x"


def test_an_unreachable_endpoint_gets_a_hint_and_the_read_timeout_is_named():
    request = httpx.Request("POST", "http://localhost:1/v1/chat/completions")
    assert "Nothing answered there" in llm_messages.unreachable_hint(
        openai.APIConnectionError(request=request)
    )
    assert llm_messages.unreachable_hint(ValueError("x")) == ""
    assert llm_messages.read_timeout(_client()) == "12.5 s"
    assert llm_messages.read_timeout(_client(timeout=openai.Timeout(30.0, read=7.0))) == "7 s"
    assert llm_messages.read_timeout(object()) == "its timeout"
