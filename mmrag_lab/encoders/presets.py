"""Named encoder presets: family, architecture or hub repo, weights and what is published about each.

``family`` picks the module that builds the preset: ``visualized-bge`` (our EVA-CLIP + BGE code, weights
from :data:`WEIGHTS_REPO`), ``clip`` (a ``transformers`` ``CLIPModel``) or ``siglip`` (a ``SiglipModel``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mmrag_lab.encoders.visualized_bge.bert import TextConfig
from mmrag_lab.encoders.visualized_bge.eva_vit import VisionConfig
from mmrag_lab.preset_names import preset_name

ASSETS = Path(__file__).resolve().parent / "assets"
WEIGHTS_REPO = "BAAI/bge-visualized"
SUM_BASELINE = "the 'image + text' baseline of CIR papers: normalize(image features + text features)"


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
        family: Which module builds it (see the module docstring).
        hub_repo: Where real weights come from; None when no official weights exist.
        about: What it is, one line, for listings.
        license: The weights' licence.
        published: The authors' zero-shot CIR figures, ``(benchmark metric, value)``; not measured here.
        dim: Embedding dimension (the contract tests check it against the loaded model).
        params: Parameter count (checked the same way); None when not known offline.
        query_template: Default name in :data:`mmrag_lab.evaluation.inputs.templates.QUERY_TEMPLATES` used by
            benchmarks to turn an annotation into the query text.
    """

    name: str
    vision: VisionConfig | None = None
    text_model: str | None = None
    checkpoint: str | None = None
    text: TextConfig | None = None
    own_text_arch: bool = False
    family: str = "visualized-bge"
    hub_repo: str | None = WEIGHTS_REPO
    about: str = ""
    license: str = ""
    published: tuple[tuple[str, float], ...] = ()
    query_template: str = "instruction"
    dim: int = 0
    params: int | None = None


def _hub(
    name: str, dim: int, params: int, family: str, repo: str | None, about: str, license: str, **more
) -> Preset:
    return Preset(
        name=name, dim=dim, params=params, family=family, hub_repo=repo, about=about, license=license, **more
    )


# MegaPairs paper (arXiv 2412.14475), tables 6-8: CIRCO mAP@5, CIRR test R@1, FashionIQ val avg R@10.
_MEGAPAIRS_BASE = (("CIRCO mAP@5", 34.3), ("CIRR test R@1", 36.1), ("FashionIQ val R@10", 31.9))
_MEGAPAIRS_LARGE = (("CIRCO mAP@5", 39.2), ("CIRR test R@1", 38.0), ("FashionIQ val R@10", 34.6))
_BGE_VL = "BGE-VL (MegaPairs): a CLIP {shape} trained for composed retrieval; query = image + text features"
HUB_PRESETS: dict[str, Preset] = {
    "bge-vl-base": _hub(
        "bge-vl-base", 512, 149620737, "clip", "BAAI/BGE-VL-base", _BGE_VL.format(shape="ViT-B/16"), "MIT",
        published=_MEGAPAIRS_BASE, query_template="circo-shared-concept",
    ),
    "bge-vl-large": _hub(
        "bge-vl-large", 768, 427616513, "clip", "BAAI/BGE-VL-large", _BGE_VL.format(shape="ViT-L/14"), "MIT",
        published=_MEGAPAIRS_LARGE, query_template="circo-shared-concept",
    ),
    "clip-vit-b16": _hub(
        "clip-vit-b16", 512, 149620737, "clip", "openai/clip-vit-base-patch16", f"OpenAI CLIP ViT-B/16, {SUM_BASELINE}", "MIT"
    ),
    "clip-vit-l14": _hub(
        "clip-vit-l14", 768, 427616513, "clip", "openai/clip-vit-large-patch14", f"OpenAI CLIP ViT-L/14, {SUM_BASELINE}", "MIT"
    ),
    "siglip2-base": _hub(
        "siglip2-base", 768, 375187970, "siglip", "google/siglip2-base-patch16-224",
        f"SigLIP 2 base/16 at 224 px, {SUM_BASELINE}", "Apache-2.0",
    ),
    "tiny-clip": _hub(
        "tiny-clip", 32, 3318849, "clip", None, "a 2-layer CLIP of width 64 on untrained weights, for tests", "MIT"
    ),
}  # fmt: skip


PRESETS: dict[str, Preset] = {
    "visualized-bge-base": Preset(
        name="visualized-bge-base",
        vision=VisionConfig(),
        text_model="BAAI/bge-base-en-v1.5",
        checkpoint="Visualized_base_en_v1.5.pth",
        text=TextConfig(),
        dim=768,
        params=196335873,
        published=(("CIRR R@5 (another corpus)", 22.5), ("FashionIQ R@5 (another corpus)", 7.5)),
        about="Visualized BGE: EVA-CLIP patch tokens read jointly with the instruction by bge-base-en-v1.5",
        license="MIT",
    ),
    "visualized-bge-m3": Preset(
        name="visualized-bge-m3",
        vision=VisionConfig(patch_size=14, width=1024, layers=24, embed_dim=768),
        text_model="BAAI/bge-m3",
        checkpoint="Visualized_m3.pth",
        dim=1024,
        about="Visualized BGE on bge-m3 (multilingual), EVA-CLIP ViT-L/14 vision tower",
        license="MIT",
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
        hub_repo=None,
        dim=64,
        params=2149425,
        about="a 2-layer Visualized BGE on untrained weights, for tests",
        license="MIT",
    ),
    **HUB_PRESETS,
}

# Text models whose config and tokenizer ship with the package, so they work offline.
BUNDLED_TEXT_MODELS = {"BAAI/bge-base-en-v1.5": ASSETS / "bge-base-en-v1.5"}


def get_preset(name: str) -> Preset:
    """Look up a preset by name, spelled as :func:`mmrag_lab.preset_names.preset_name` reads it (``TINY``
    is ``tiny``).

    Raises:
        ConfigError: No preset has that name; the message lists the ones that exist.
    """
    return PRESETS[preset_name("encoder preset", name)]
