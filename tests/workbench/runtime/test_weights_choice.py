"""Deciding the weights of an unattended run without waiting on the network."""

from __future__ import annotations

import os
import socket
import time

import pytest

from mmrag_lab.encoders.presets import WEIGHTS_REPO
from mmrag_lab.workbench.runtime.weights_choice import how_to_get_weights, hub_reachable, pick_weights


@pytest.fixture(autouse=True)
def clean_hub_env(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # pick_weights must leave it as it is
    monkeypatch.delenv("HF_ENDPOINT", raising=False)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_given_weights_are_used_as_they_are():
    assert pick_weights("visualized-bge-base", "/w/x.pth").weights == "/w/x.pth"
    choice = pick_weights("visualized-bge-base", "untrained")
    assert choice.untrained and choice.weights == "untrained"


def test_tiny_has_no_official_weights():
    choice = pick_weights("tiny")
    assert choice.untrained and "no official weights" in choice.reason
    assert "visualized-bge-base" in how_to_get_weights("tiny")


def test_weights_in_the_hub_cache_are_found(tmp_path):
    snapshot = tmp_path / "hub" / f"models--{WEIGHTS_REPO.replace('/', '--')}" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "Visualized_base_en_v1.5.pth").write_bytes(b"checkpoint")
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("abc123")
    choice = pick_weights("visualized-bge-base")
    assert not choice.untrained and choice.weights == str(snapshot / "Visualized_base_en_v1.5.pth")


def test_offline_without_weights_falls_back_loudly_and_fast(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    started = time.perf_counter()
    choice = pick_weights("visualized-bge-base", timeout=2.0)
    assert time.perf_counter() - started < 10
    assert choice.untrained and "unreachable" in choice.reason
    assert os.environ["HF_HUB_OFFLINE"] == "0", "the user's kernel environment must be left as it was"
    assert "huggingface-cli download BAAI/bge-visualized Visualized_base_en_v1.5.pth" in how_to_get_weights(
        "visualized-bge-base"
    )


def test_a_listening_hub_counts_as_reachable(monkeypatch):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        assert hub_reachable(timeout=2.0)
        choice = pick_weights("visualized-bge-base")
    assert choice.weights is None and "will download" in choice.reason


def test_hf_hub_offline_skips_the_probe(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert not hub_reachable()


def test_the_untrained_banner_renders_code_and_links(tmp_path):
    from mmrag_lab.workbench.runtime.session import setup

    session = setup("x", encoder="visualized-bge-base", weights="untrained", uri=str(tmp_path / "x.db"))
    banner = session._repr_markdown_().split("</div>")[0]
    assert "`" not in banner and "<code>huggingface-cli download" in banner
    url = f"https://huggingface.co/{WEIGHTS_REPO}/resolve/main/"
    assert f'<a href="{url}' in banner and banner.count("<a ") == 1


def test_a_hub_folder_preset_is_found_in_the_cache_or_falls_back(tmp_path, monkeypatch):
    snapshot = tmp_path / "hub" / "models--BAAI--BGE-VL-base" / "snapshots" / "def456"
    snapshot.mkdir(parents=True)
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("def456")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    incomplete = pick_weights("bge-vl-base", timeout=2.0)  # a snapshot without weights is not enough
    assert incomplete.untrained and "BAAI/BGE-VL-base" in incomplete.reason
    (snapshot / "config.json").write_text("{}")
    (snapshot / "model.safetensors").write_bytes(b"weights")
    choice = pick_weights("bge-vl-base")
    assert not choice.untrained and choice.weights == str(snapshot)
    assert "huggingface-cli download openai/clip-vit-base-patch16 --local-dir" in how_to_get_weights(
        "clip-vit-b16"
    )
