"""The ``clip`` family: BGE-VL and OpenAI CLIP presets, a ``transformers`` ``CLIPModel`` each.

Pixels come from the model folder's ``CLIPImageProcessor`` on its PIL backend (transformers' default
torchvision backend differs from upstream by up to 0.03); tokens from its CLIP BPE tokenizer, padded to the
longest text and truncated at 77 positions.
"""

from __future__ import annotations

import torch

from mmrag_lab.config import Config
from mmrag_lab.encoders import hub_weights as H
from mmrag_lab.encoders.dual_tower import DualTowerEncoder, preprocessing_of
from mmrag_lab.encoders.presets import Preset
from mmrag_lab.encoders.weights import UNTRAINED


def load(preset: Preset, cfg: Config, device: torch.device, dtype: torch.dtype) -> DualTowerEncoder:
    """Build a ``clip``-family preset (see :func:`mmrag_lab.encoders.load_encoder`)."""
    from transformers import AutoImageProcessor, CLIPConfig, CLIPModel, CLIPTokenizer

    folder = H.resolve_folder(preset, cfg.weights)
    untrained = folder == UNTRAINED
    if untrained:
        source, tokenizer_source = H.config_folder(preset), H.CLIP_TOKENIZER
        model = H.untrained(CLIPModel, CLIPConfig.from_pretrained(source))
    else:
        source = tokenizer_source = folder
        model = H.from_folder(CLIPModel, folder)
    processor = AutoImageProcessor.from_pretrained(source, backend="pil")
    # BGE-VL's upstream opens images with Image.open(p).convert("RGB"): no EXIF transpose.
    preprocessing = preprocessing_of(processor, exif_transpose=not preset.name.startswith("bge-vl"))
    return DualTowerEncoder(
        model.to(device=device, dtype=dtype),
        processor,
        CLIPTokenizer.from_pretrained(tokenizer_source),
        H.info(preset, model, model.config.projection_dim, folder),
        preprocessing,
        text_limit=model.config.text_config.max_position_embeddings,
        padding=True,
        text_inputs=("input_ids", "attention_mask"),
        device=device,
        batch_size=cfg.batch_size,
    )
