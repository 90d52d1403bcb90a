"""Fixtures shared by the Python API's bad-input tests: a small real Lite collection, and a guard that fails
a test if the encoder is ever loaded (a refused argument must be refused before any model is built)."""

from __future__ import annotations

import pytest
from cli_inputs import NEVER_LOADED, small_collection, snapshot

from mmrag_lab.config import Config
from mmrag_lab.retrieval import query as query_module


@pytest.fixture(scope="module")
def lite(tmp_path_factory, sample_dir, tiny_encoder):
    """(config, images folder, one image, the collection's snapshot) of a tiny-encoder Lite collection."""
    uri, images = small_collection(tmp_path_factory.mktemp("api"), sample_dir, tiny_encoder)
    config = Config.load(env={}, milvus_uri=uri, collection="badinput", device="cpu")
    return config, images, sorted(images.glob("*.jpg"))[0], snapshot(uri)


@pytest.fixture()
def no_model(monkeypatch):
    import mmrag_lab.encoders as encoders

    def refuse(*args, **kwargs):
        raise AssertionError(NEVER_LOADED)

    query_module._load_encoder.cache_clear()
    monkeypatch.setattr(encoders, "load_encoder", refuse)
    yield
    query_module._load_encoder.cache_clear()
