"""The public API (``mmrag_lab.search``, ``.ingest``, ``.rerank``, ``Config``) given generated hostile
parameters: each raises one of our errors naming the parameter, before any model loads, and the collection
is unchanged."""

from __future__ import annotations

import dataclasses

import pytest
from cli_inputs import (
    NEVER_LOADED,
    bad_collection_names,
    bad_devices,
    bad_query_files,
    bad_shards,
    snapshot,
)
from PIL import Image

import mmrag_lab
from mmrag_lab.errors import ConfigError, ImageLoadError, MmragError, QueryError

OPTION_FIELDS = {field.name for field in dataclasses.fields(mmrag_lab.IngestOptions)}
BAD_K = [0, -1, -(2**40), 16385, 10**12, 1.5, "3", None, True, [3]]


@pytest.mark.parametrize("k", BAD_K, ids=[repr(k) for k in BAD_K])
def test_search_refuses_each_bad_k(lite, no_model, k):
    config, _, query, before = lite
    with pytest.raises(QueryError, match="k must be a whole number from 1 to 16384"):
        mmrag_lab.search(query, k=k, config=config)
    assert snapshot(config.milvus_uri) == before


@pytest.mark.parametrize("kind", ["folder", "missing", "text", "empty", "truncated", "bomb", "fifo"])
def test_search_refuses_each_query_file_before_the_model(lite, tmp_path, no_model, kind):
    config, _, _, _ = lite
    path, _ = bad_query_files(tmp_path)[kind]
    with pytest.raises(ImageLoadError) as caught:
        mmrag_lab.search(path, config=config)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("size", [10_001, 50_000])
@pytest.mark.parametrize("part", ["instruction", "text"])
def test_search_refuses_an_oversized_text(lite, no_model, size, part):
    config, _, query, _ = lite
    given = {"image": query, "instruction": "x" * size} if part == "instruction" else {"text": "x" * size}
    with pytest.raises(ConfigError, match=f"{part} has {size:,} characters"):
        mmrag_lab.search(**given, config=config)


@pytest.mark.parametrize("device", bad_devices())
def test_search_refuses_a_device_before_the_model(lite, no_model, device):
    config, _, query, _ = lite
    with pytest.raises(ConfigError, match="device"):
        mmrag_lab.search(query, config=config.with_overrides(device=device))


def test_a_one_pixel_picture_is_a_valid_query(lite, tiny_encoder):
    config, _, _, before = lite
    results = mmrag_lab.search(Image.new("RGB", (1, 1), (9, 9, 9)), k=3, config=config, encoder=tiny_encoder)
    assert len(results.hits) == 3
    assert snapshot(config.milvus_uri) == before


INGEST_CASES = (
    [("batch_size", v, "batch_size") for v in (0, -1, 65537, "x", 1.5)]
    + [("workers", v, "workers") for v in (-1, 257, "two", 1.5)]
    + [("cpu_share", v, "cpu_share") for v in (-0.1, 1.01, float("nan"), "half")]
    + [("dtype", v, "dtype") for v in ("fp8", "", 16)]
    + [("shard", v, "shard") for v in bad_shards()]
    + [("shard", v, "shard") for v in ((3, 3), (-1, 2), (0, 0))]
)


@pytest.mark.parametrize("name,value,fragment", INGEST_CASES, ids=[f"{n}={v!r}" for n, v, _ in INGEST_CASES])
def test_ingest_refuses_each_bad_parameter_before_the_model(lite, no_model, name, value, fragment):
    config, images, _, before = lite
    with pytest.raises(MmragError, match=fragment) as caught:
        given = (
            {"options": mmrag_lab.IngestOptions(**{name: value})} if name in OPTION_FIELDS else {name: value}
        )
        mmrag_lab.ingest(images, config=config.with_overrides(encoder="tiny"), progress=False, **given)
    assert NEVER_LOADED not in str(caught.value)
    assert snapshot(config.milvus_uri) == before


@pytest.mark.parametrize("name", bad_collection_names())
def test_ingest_refuses_a_collection_name_milvus_refuses(lite, no_model, name):
    config, images, _, before = lite
    with pytest.raises(ConfigError, match="not a name Milvus accepts"):
        mmrag_lab.ingest(images, config=config, collection=name, progress=False)
    assert snapshot(config.milvus_uri) == before


def test_rerank_strict_names_an_unconfigured_endpoint(lite, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    config, images, query, _ = lite
    with pytest.raises(ConfigError, match="OPENAI_BASE_URL"):
        mmrag_lab.rerank(sorted(images.glob("*.jpg")), query, "red", config=config, strict=True)
