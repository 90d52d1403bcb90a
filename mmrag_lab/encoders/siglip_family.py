"""The ``siglip`` family: SigLIP 2 at a fixed resolution, a ``transformers`` ``SiglipModel``.

Pixels: the folder's ``SiglipImageProcessor`` (PIL backend): both sides resized to the model's size, no crop,
mean and std 0.5. Tokens: padded to the model's fixed length (64) as SigLIP was trained, no attention mask,
truncated there. Real weights bring their Gemma tokenizer; ``untrained`` weights, which must work offline,
use the bundled CLIP BPE tokenizer as a stand-in (ids stay inside Gemma's vocabulary).
"""

from __future__ import annotations

import torch

from mmrag_lab.config import Config
from mmrag_lab.encoders import hub_weights as H
from mmrag_lab.encoders.dual_tower import DualTowerEncoder, preprocessing_of
from mmrag_lab.encoders.presets import Preset
from mmrag_lab.encoders.weights import UNTRAINED


def load(preset: Preset, cfg: Config, device: torch.device, dtype: torch.dtype) -> DualTowerEncoder:
    """Build a ``siglip``-family preset (see :func:`mmrag_lab.encoders.load_encoder`)."""
    from transformers import AutoImageProcessor, AutoTokenizer, CLIPTokenizer, SiglipConfig, SiglipModel

    folder = H.resolve_folder(preset, cfg.weights)
    if folder == UNTRAINED:
        source = H.config_folder(preset)
        model = H.untrained(SiglipModel, SiglipConfig.from_pretrained(source))
        tokenizer = CLIPTokenizer.from_pretrained(H.CLIP_TOKENIZER)
    else:
        source = folder
        model = H.from_folder(SiglipModel, folder)
        tokenizer = AutoTokenizer.from_pretrained(folder)
    processor = AutoImageProcessor.from_pretrained(source, backend="pil")
    return DualTowerEncoder(
        model.to(device=device, dtype=dtype),
        processor,
        tokenizer,
        H.info(preset, model, model.config.vision_config.hidden_size, folder),
        preprocessing_of(processor, exif_transpose=True),
        text_limit=model.config.text_config.max_position_embeddings,
        padding="max_length",
        text_inputs=("input_ids",),
        device=device,
        batch_size=cfg.batch_size,
    )
