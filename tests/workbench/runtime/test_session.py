"""Notebook set-up: the default query image and the reranker status."""

from __future__ import annotations

import pytest
from PIL import Image

from mmrag_lab.config import Config
from mmrag_lab.reranking.llm import reranker_configured
from mmrag_lab.workbench.runtime.session import reranker_status, setup


def test_the_default_query_image_is_never_a_checkpoint_copy(tmp_path):
    images = tmp_path / "images"
    for rel in (".ipynb_checkpoints/a-checkpoint.jpg", "b.webp", "c.jpg"):
        (images / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), "red").save(images / rel)
    session = setup("x", data_dir=images, encoder="tiny", weights="untrained", uri=str(tmp_path / "x.db"))
    assert session.query_image == str(images / "b.webp")


@pytest.mark.parametrize(
    "key, base_url, configured",
    [("", None, False), ("sk-test", None, True), ("", "http://127.0.0.1:1/v1", True)],
)
def test_the_reranker_status_says_what_reranker_configured_says(monkeypatch, key, base_url, configured):
    monkeypatch.setenv("OPENAI_API_KEY", key)
    config = Config.load(env={}, llm_base_url=base_url)
    assert reranker_configured(config) is configured
    assert ("No reranker endpoint is configured" not in reranker_status(config).data) is configured
