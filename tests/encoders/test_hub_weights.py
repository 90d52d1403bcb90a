"""Weights of the hub presets: a missing download or a folder without weights says what to do."""

from __future__ import annotations

import socket

import huggingface_hub.constants
import pytest

from mmrag_lab.encoders import load_encoder
from mmrag_lab.errors import WeightsError


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_a_failed_download_names_the_repo_and_the_folder_to_pass(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    with pytest.raises(WeightsError) as caught:
        load_encoder("clip-vit-b16", device="cpu", config=None)
    message = str(caught.value)
    assert "openai/clip-vit-base-patch16" in message and "MMRAG_WEIGHTS=FOLDER" in message
    assert "untrained" in message


def test_a_folder_without_weights_is_refused(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(WeightsError, match="model.safetensors"):
        load_encoder("bge-vl-base", weights=str(tmp_path), device="cpu")
