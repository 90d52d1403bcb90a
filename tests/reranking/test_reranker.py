"""The reranker, run with the real ``openai`` client over HTTP against a local chat-completions server."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from openai_stub import OpenAIStub
from PIL import Image

from mmrag_lab.errors import AuthenticationError, ConfigError
from mmrag_lab.reranking.llm import RetryPolicy
from mmrag_lab.reranking.reranker import RerankResult, rerank, rerank_many

CANARY = "sk-" + "canary-7f3a9c1e5b2d4f60a8e1c3b5d7f9a2c4"  # built, so no key-like literal is tracked
FAST = RetryPolicy(max_retries=2, backoff_s=0.01, max_wait_s=0.05)
N = 9
REVERSED = list(range(N))[::-1]
RETRIEVAL = list(range(N))


@pytest.fixture(scope="module")
def stub():
    with OpenAIStub(slow_s=1.5) as server:
        yield server


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    paths = []
    for i in range(12):
        rng = np.random.default_rng(i)
        pixels = rng.integers(0, 255, (160, 120, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"item{i}.jpg", quality=90)
        paths.append(str(folder / f"item{i}.jpg"))
    return paths


@pytest.fixture()
def env(stub, tmp_path, monkeypatch):
    """Key and endpoint from the environment, as a user sets them; cache and cwd in tmp_path."""
    stub._queue.clear()
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
    monkeypatch.setenv("MMRAG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return stub


def _rerank(photos, instruction="make it red", **kwargs) -> RerankResult:
    kwargs.setdefault("retry", FAST)
    return rerank(photos[1:10], photos[0], instruction, **kwargs)


# kind -> (expected order, whether the retrieval order is kept as a fallback)
SCRIPTED = {
    "good": (REVERSED, False),
    "fenced": (REVERSED, False),
    "text": (REVERSED, False),
    "out_of_range": ([1, 0, 2, 3, 4, 5, 6, 7, 8], False),
    "duplicates": ([2, 1, 0, 3, 4, 5, 6, 7, 8], False),
    "empty": (RETRIEVAL, True),
    "null_content": (RETRIEVAL, True),
    "non_json": (RETRIEVAL, True),
    "no_usable": (RETRIEVAL, True),
    "server_error": (RETRIEVAL, True),
    "slow": (RETRIEVAL, True),
    "unauthorized": (RETRIEVAL, True),
    "forbidden": (RETRIEVAL, True),
    "schema_rejected": (REVERSED, False),
}


@pytest.mark.parametrize("kind", sorted(SCRIPTED))
def test_every_scripted_reply_returns_a_result(env, photos, kind):
    env.script(*[kind] * (FAST.max_retries + 2))
    # The client remembers endpoints that reject JSON-schema output; keep that memory away from gpt-4o.
    model = "schema-less-model" if kind == "schema_rejected" else None
    result = _rerank(photos, timeout=0.4, model=model)
    expected, fell_back = SCRIPTED[kind]
    assert result.order == expected
    assert [Path(h).name for h in result.hits] == [f"item{i + 1}.jpg" for i in expected]
    assert (result.fallback_reason is not None) == fell_back
    assert result.cached is False
    if not fell_back:
        assert result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens > 0
        assert result.explanation


def test_repairs_are_recorded(env, photos):
    env.script("out_of_range")
    result = _rerank(photos)
    assert any("out of range" in issue for issue in result.issues)
    assert any("appended" in issue for issue in result.issues)


def test_rate_limit_then_success_retries_once(env, photos):
    before = len(env.requests)
    env.script("rate_limit", "good")
    result = _rerank(photos)
    assert result.ok and result.order == REVERSED
    assert [r.kind for r in env.requests[before:]] == ["rate_limit", "good"]


def test_server_error_is_retried_then_falls_back(env, photos):
    before = len(env.requests)
    env.script(*["server_error"] * 5)
    result = _rerank(photos)
    assert len(env.requests) - before == FAST.max_retries + 1
    assert "500" in result.fallback_reason and "3 attempt" in result.fallback_reason


def test_slow_reply_times_out_then_falls_back(env, photos):
    env.script(*["slow"] * 5)
    result = _rerank(photos, timeout=0.3, max_retries=1)
    assert "timed out" in result.fallback_reason.lower()


def test_auth_failure_says_which_variable_and_strict_raises(env, photos):
    env.script("unauthorized", "unauthorized")
    result = _rerank(photos)
    assert "OPENAI_API_KEY" in result.fallback_reason
    with pytest.raises(AuthenticationError, match="OPENAI_API_KEY"):
        _rerank(photos, strict=True)


def test_schema_rejection_falls_back_to_plain_text(env, photos):
    before = len(env.requests)
    env.script("schema_rejected", "schema_rejected")
    result = _rerank(photos, model="another-schema-less-model")
    sent = env.requests[before:]
    assert result.ok and "response_format" in sent[0].body and "response_format" not in sent[1].body


def test_no_key_and_no_endpoint_falls_back_without_a_request(env, photos, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("OPENAI_BASE_URL")
    before = len(env.requests)
    result = _rerank(photos)
    assert result.order == RETRIEVAL and len(env.requests) == before
    assert "OPENAI_API_KEY" in result.fallback_reason and "OPENAI_BASE_URL" in result.fallback_reason
    with pytest.raises(ConfigError):
        _rerank(photos, strict=True)


def test_the_request_carries_panorama_prompt_and_schema(env, photos):
    result = _rerank(photos, instruction='make it "red"\nand longer')
    request = env.requests[-1]
    assert request.path == "/v1/chat/completions" and request.body["model"] == "gpt-4o"
    assert request.headers["authorization"] == f"Bearer {CANARY}"
    [url] = request.image_urls
    assert base64.b64decode(url.split(",", 1)[1]) == result.panorama.jpeg
    assert json.dumps('make it "red"\nand longer') in request.text
    assert "blue border" in request.text and "red" in request.text and "from 1 to 9" in request.text
    assert request.body["response_format"]["type"] == "json_schema"
    # Reproducible by default: temperature 0, a bounded reply, a seed.
    assert request.body["temperature"] == 0 and request.body["seed"] == 0
    assert 0 < request.body["max_tokens"] <= 2000


def test_metadata_goes_into_the_prompt_only_when_asked(env, photos):
    hits = [SimpleNamespace(path=p, meta={"colour": f"shade-{i}"}) for i, p in enumerate(photos[1:10])]
    result = rerank(hits, photos[0], "make it red", retry=FAST)
    assert "shade-4" in env.requests[-1].text and result.hits[0] is hits[8]
    rerank(hits, photos[0], "make it red", retry=FAST, include_metadata=False)
    assert "shade-4" not in env.requests[-1].text


def test_second_identical_call_is_served_from_the_cache(env, photos, tmp_path):
    first = _rerank(photos)
    before = len(env.requests)
    second = _rerank(photos)
    assert second.cached and not first.cached and len(env.requests) == before
    assert second.order == first.order and second.usage == first.usage
    assert len(list((tmp_path / "cache" / "rerank").glob("*.json"))) == 1
    third = _rerank(photos, instruction="make it green")  # another prompt, another key
    assert not third.cached and len(env.requests) == before + 1


def test_unusable_replies_are_not_cached_and_corrupt_cache_files_are_misses(env, photos, tmp_path):
    env.script("non_json")
    assert not _rerank(photos).ok
    assert _rerank(photos).ok  # asked again, not replayed from the cache
    for path in (tmp_path / "cache" / "rerank").glob("*.json"):
        path.write_text("{ not json")
    assert not _rerank(photos).cached


def test_more_candidates_than_cells_keep_their_tail(env, photos):
    result = rerank(photos[:12], photos[0], "make it red", retry=FAST, exclude_query=False)
    assert result.order == REVERSED + [9, 10, 11]
    assert any("first 9" in issue for issue in result.issues)


def test_no_candidates(env, photos):
    result = rerank([], photos[0], "make it red")
    assert result.order == [] and result.fallback_reason


def test_rerank_many_keeps_input_order_and_isolates_bad_items(env, photos, tmp_path):
    queries = [(photos[1:10], photos[0], f"query {i}") for i in range(5)]
    queries.append((photos[1:10], photos[0], "odd one [[stub:non_json]]"))
    queries.append({"results": photos[1:10], "image": tmp_path / "gone.jpg", "instruction": "x"})
    results = rerank_many(queries, concurrency=3, retry=FAST)
    assert [r.ok for r in results] == [True] * 5 + [False, False]
    assert all(r.order == REVERSED for r in results[:5])
    assert "gone.jpg" in results[-1].fallback_reason


def test_the_key_never_reaches_logs_cache_or_files(env, photos, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("openai", "httpx", "httpx2", "httpcore", "httpcore2", "mmrag_lab"):
        caplog.set_level(logging.DEBUG, logger=name)
    outputs = []
    for kind in ["good", "fenced", "rate_limit", "server_error", "unauthorized", "forbidden", "non_json"]:
        env.script(kind, kind, kind)
        outputs.append(_rerank(photos, instruction=f"kind {kind}"))
    outputs.append(_rerank(photos, instruction="kind good"))  # a cache hit
    assert env.requests[-1].headers["authorization"].endswith(CANARY)  # the key was really in use
    assert any(r.name.startswith("openai") and r.levelno == logging.DEBUG for r in caplog.records)
    assert CANARY not in caplog.text
    for result in outputs:
        assert CANARY not in repr(result) and CANARY not in json.dumps(result.to_dict())
        assert CANARY[:12] not in (result.fallback_reason or "")
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".json" for p in written)
    for path in written:
        assert CANARY.encode() not in path.read_bytes(), path


def test_two_endpoints_serving_the_same_model_never_share_a_cache_entry(env, photos, tmp_path):
    """An always-400 endpoint must not look successful because another endpoint's answer is cached."""
    with OpenAIStub(default="image_too_large") as broken:
        good = _rerank(photos, base_url=env.base_url, model="gpt-4o")
        before = len(broken.requests)
        bad = _rerank(photos, base_url=broken.base_url, model="gpt-4o")
        assert good.ok and not good.cached
        assert not bad.ok and not bad.cached and len(broken.requests) == before + 1
        assert "image too large" in bad.fallback_reason
    assert len(list((tmp_path / "cache" / "rerank").glob("*.json"))) == 1
    # Anything else in the request (here the sampling) is a new entry too.
    from mmrag_lab.reranking.llm import Sampling

    again = _rerank(photos, base_url=env.base_url, model="gpt-4o", sampling=Sampling(temperature=0.7))
    assert not again.cached and _rerank(photos, base_url=env.base_url, model="gpt-4o").cached


def test_a_400_about_something_else_is_not_retried_without_the_schema(env, photos):
    before = len(env.requests)
    env.script("image_too_large", "good")
    result = _rerank(photos, model="schema-model-a")
    sent = env.requests[before:]
    assert not result.ok and "image too large" in result.fallback_reason
    assert len(sent) == 1 and "response_format" in sent[0].body
    assert _rerank(photos, model="schema-model-a").ok  # and the schema is still used afterwards
    assert "response_format" in env.requests[-1].body


def test_a_refused_seed_is_dropped_and_the_schema_kept(env, photos):
    before = len(env.requests)
    env.script("seed_rejected", "seed_rejected")
    result = _rerank(photos, model="seedless-model")
    sent = env.requests[before:]
    assert result.ok and [("seed" in r.body) for r in sent] == [True, False]
    assert all("response_format" in r.body for r in sent)


def test_numbers_in_prompt_panorama_reply_and_grids_agree(env, photos):
    from mmrag_lab.plots.figures import plot_rerank
    from mmrag_lab.retrieval.results import Hit

    hits = [
        Hit(rank=i + 1, id=f"c{i}", path=p, score=1 - i / 10, meta={"n": i})
        for i, p in enumerate(photos[1:10])
    ]
    result = rerank(hits, photos[0], "make it red", retry=FAST, cache_dir=None, use_cache=False)
    text = env.requests[-1].text
    # The panorama's badges, the prompt's numbers and metadata lines, and the grid titles all say 1..9.
    assert result.panorama.layout.labels == tuple(str(i) for i in range(1, 10))
    assert "from 1 to 9" in text and '\n1: {"n": 0}' in text and '\n9: {"n": 8}' in text
    # The stub answers in the prompt's numbers (9 first) and names its pick: "Candidate 9 fits".
    assert "Candidate 9" in result.explanation and result.hits[0] is hits[8]
    fig = plot_rerank(hits, result)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert any(t.startswith("#9") for t in titles)  # the retrieval grid shows that hit as #9
    assert any("was #9" in t for t in titles)  # and the reranked grid says where it came from


def test_the_query_image_never_takes_a_panorama_slot(env, photos, tmp_path):
    twin = tmp_path / "same bytes.jpg"
    twin.write_bytes(Path(photos[0]).read_bytes())
    candidates = [photos[0], photos[1], str(twin), photos[2]]
    env.script("good")
    result = rerank(candidates, photos[0], "make it red", retry=FAST, use_cache=False)
    assert sorted(result.hits) == [photos[1], photos[2]]  # same path or same bytes: left out
    kept = rerank(candidates, photos[0], "make it red", retry=FAST, use_cache=False, exclude_query=False)
    assert len(kept.hits) == 4


def test_the_client_gets_its_own_timeout_type_with_the_configured_seconds(env):
    """Whatever transport the installed openai runs on (httpx, httpx2), it is given only its own type."""
    import openai

    from mmrag_lab.config import Config
    from mmrag_lab.reranking.llm import make_client

    client = make_client(Config(llm_timeout=7.5, llm_connect_timeout=2.0))
    assert isinstance(client.timeout, openai.Timeout)
    assert (client.timeout.read, client.timeout.connect) == (7.5, 2.0)
    assert client.max_retries == 0
    short = make_client(Config(llm_timeout=1.0, llm_connect_timeout=2.0))
    assert short.timeout.connect == 1.0  # connecting never waits longer than the whole read may
