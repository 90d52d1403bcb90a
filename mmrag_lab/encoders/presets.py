"""Named encoder presets: architecture, checkpoint file and text model for each."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mmrag_lab.encoders.bert import TextConfig
from mmrag_lab.encoders.eva_vit import VisionConfig
from mmrag_lab.errors import ConfigError

ASSETS = Path(__file__).resolve().parent / "assets"
WEIGHTS_REPO = "BAAI/bge-visualized"


@dataclass(frozen=True)
class Preset:
    """One encoder variant.

    Attributes:
        name: The preset's name (``MMRAG_ENCODER``).
        vision: Vision tower architecture.
        text_model: Default hub id (or bundled folder) for the text config and tokenizer.
        checkpoint: File name in :data:`WEIGHTS_REPO`, or None when no official weights exist.
        text: Text architecture; for the official presets it is re-read from the text model's config.
        own_text_arch: Use ``text`` even when the text model's config says otherwise (the tiny preset
            borrows only the tokenizer).
    """

    name: str
    vision: VisionConfig
    text_model: str
    checkpoint: str | None
    text: TextConfig | None = None
    own_text_arch: bool = False


PRESETS: dict[str, Preset] = {
    "visualized-bge-base": Preset(
        name="visualized-bge-base",
        vision=VisionConfig(),
        text_model="BAAI/bge-base-en-v1.5",
        checkpoint="Visualized_base_en_v1.5.pth",
        text=TextConfig(),
    ),
    "visualized-bge-m3": Preset(
        name="visualized-bge-m3",
        vision=VisionConfig(patch_size=14, width=1024, layers=24, embed_dim=768),
        text_model="BAAI/bge-m3",
        checkpoint="Visualized_m3.pth",
    ),
    "tiny": Preset(
        name="tiny",
        vision=VisionConfig(
            image_size=32, patch_size=8, width=64, layers=2, head_width=32, embed_dim=32, pt_hw_seq_len=4
        ),
        text_model=str(ASSETS / "bge-base-en-v1.5"),
        checkpoint=None,
        text=TextConfig(
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=128,
            max_position_embeddings=64,
        ),
        own_text_arch=True,
    ),
}

# Text models whose config and tokenizer ship with the package, so they work offline.
BUNDLED_TEXT_MODELS = {"BAAI/bge-base-en-v1.5": ASSETS / "bge-base-en-v1.5"}


def get_preset(name: str) -> Preset:
    """Look up a preset by name.

    Raises:
        ConfigError: No preset has that name; the message lists the ones that exist.
    """
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(
            f"Unknown encoder preset {name!r}. Available presets: {', '.join(sorted(PRESETS))}. "
            "Set MMRAG_ENCODER or pass name= to one of them."
        ) from None
