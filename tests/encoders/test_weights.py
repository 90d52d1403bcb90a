"""Checkpoint files: missing or corrupt files, the hub cache, and what to do offline."""

from __future__ import annotations

import pytest

from mmrag_lab.encoders import PRESETS, load_encoder
from mmrag_lab.encoders import weights as W
from mmrag_lab.errors import WeightsError


def test_missing_and_corrupt_checkpoint_files(tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        load_encoder("tiny", weights=str(tmp_path / "nope.pth"), device="cpu")
    corrupt = tmp_path / "half.pth"
    corrupt.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(WeightsError, match="Cannot read checkpoint"):
        load_encoder("tiny", weights=str(corrupt), device="cpu")


def test_offline_without_cache_says_where_to_get_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("MMRAG_WEIGHTS", raising=False)
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(WeightsError) as err:
        W.resolve_checkpoint(PRESETS["visualized-bge-base"], None)
    message = str(err.value)
    assert "Visualized_base_en_v1.5.pth" in message and "BAAI/bge-visualized" in message
    assert "MMRAG_WEIGHTS" in message and "untrained" in message


def test_hub_cache_is_used_before_any_download(tmp_path, monkeypatch):
    import huggingface_hub.constants as hub_constants

    snapshot = tmp_path / "hub" / "models--BAAI--bge-visualized" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "Visualized_base_en_v1.5.pth").write_bytes(b"cached")
    (tmp_path / "hub" / "models--BAAI--bge-visualized" / "refs").mkdir()
    (tmp_path / "hub" / "models--BAAI--bge-visualized" / "refs" / "main").write_text("abc123")
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    found = W.resolve_checkpoint(PRESETS["visualized-bge-base"], None)
    assert found.endswith("abc123/Visualized_base_en_v1.5.pth")
