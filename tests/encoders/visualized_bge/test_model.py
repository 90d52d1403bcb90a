"""The Visualized BGE model: the official checkpoint's parameter layout, and the m3 preset's shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmrag_lab.encoders import PRESETS
from mmrag_lab.encoders import weights as W
from mmrag_lab.encoders.visualized_bge.model import VisualizedBGEModel

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "visualized-bge-parity"


def test_checkpoint_layout_matches_the_official_one():
    layout = json.loads((FIXTURE / "checkpoint_layout.json").read_text())
    model = VisualizedBGEModel(PRESETS["visualized-bge-base"].vision, PRESETS["visualized-bge-base"].text)
    ours = {k: list(v.shape) for k, v in model.named_parameters()}
    assert ours == layout["parameters"]
    assert all(k.endswith(W.COMPUTED_BUFFERS) for k in layout["buffers"])


@pytest.mark.slow
def test_m3_preset_architecture_builds():
    from mmrag_lab.encoders.visualized_bge.bert import TextConfig

    preset = PRESETS["visualized-bge-m3"]
    assert preset.vision.num_patches == 256 and preset.vision.heads == 16
    text = TextConfig(
        vocab_size=100,
        hidden_size=1024,
        num_hidden_layers=1,
        num_attention_heads=16,
        intermediate_size=64,
        max_position_embeddings=8194,
        type_vocab_size=1,
        layer_norm_eps=1e-5,
        pad_token_id=1,
        model_type="xlm-roberta",
    )
    model = VisualizedBGEModel(preset.vision, text)
    assert model.model_visual.visual.blocks[0].mlp.w1.weight.shape == (2730, 1024)
    assert model.visual_proj.weight.shape == (1024, 1024)
