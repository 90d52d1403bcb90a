"""Loading an encoder: presets by name, the untrained warning once, dtypes and devices checked."""

from __future__ import annotations

import warnings

import pytest
import torch

from mmrag_lab.encoders import load_encoder, pick_dtype
from mmrag_lab.errors import ConfigError, UntrainedWeightsWarning


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ConfigError, match="visualized-bge-base"):
        load_encoder("clip-xl", weights="untrained")


def test_untrained_warning_is_given_once(monkeypatch):
    from mmrag_lab import encoders

    monkeypatch.setattr(encoders, "_warned", set())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_encoder("tiny", weights="untrained", device="cpu")
        load_encoder("tiny", weights="untrained", device="cpu")
    assert sum(issubclass(w.category, UntrainedWeightsWarning) for w in caught) == 1


def test_dtype_and_device_choices():
    assert pick_dtype("auto", torch.device("cpu")) == torch.float32
    assert pick_dtype("auto", torch.device("cuda")) == torch.float16
    assert pick_dtype("bf16", torch.device("cpu")) == torch.bfloat16
    with pytest.raises(ConfigError):
        pick_dtype("int3", torch.device("cpu"))
    with pytest.raises(ConfigError):
        load_encoder("tiny", weights="untrained", device="warp-drive")
