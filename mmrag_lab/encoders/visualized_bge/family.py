"""The ``visualized-bge`` family: our EVA-CLIP + BGE network, weights from ``BAAI/bge-visualized``."""

from __future__ import annotations

import torch

from mmrag_lab.config import Config
from mmrag_lab.encoders import weights as W
from mmrag_lab.encoders.base import EncoderInfo
from mmrag_lab.encoders.presets import Preset
from mmrag_lab.encoders.visualized_bge.encoder import VisualBGEEncoder
from mmrag_lab.encoders.visualized_bge.model import VisualizedBGEModel


def load(preset: Preset, cfg: Config, device: torch.device, dtype: torch.dtype) -> VisualBGEEncoder:
    """Build a Visualized BGE preset (see :func:`mmrag_lab.encoders.load_encoder`)."""
    checkpoint = W.resolve_checkpoint(preset, cfg.weights)  # a wrong path is named before the model is built
    text_source = W.resolve_text_model(preset, cfg.text_model)
    text_cfg = W.text_config(preset, text_source)
    model = VisualizedBGEModel(preset.vision, text_cfg)
    untrained = checkpoint == W.UNTRAINED
    state = W.untrained_state_dict(model) if untrained else W.read_checkpoint(checkpoint)
    W.load_strict(model, state)
    del state
    info = EncoderInfo(
        name=preset.name,
        dim=model.bge_embeddings.word_embeddings.embedding_dim,
        untrained=untrained,
        weights=checkpoint,
        fingerprint=W.fingerprint(model),
    )
    model = model.to(device=device, dtype=dtype)
    return VisualBGEEncoder(
        model,
        W.load_tokenizer(text_source),
        info,
        preset.vision.image_size,
        text_cfg.max_instruction_tokens(preset.vision.num_patches),
        device,
        cfg.batch_size,
    )
