"""Visualized BGE: EVA02-CLIP patch tokens spliced into a BGE text encoder, pooled at [CLS].

Sequence layout (as upstream): ``[CLS] img_1 .. img_P tok_1 .. tok_T [SEP]`` with BERT positions
``0, 1..P, P+1..``; image tokens get ``visual_proj``, their position embedding and the embedding LayerNorm.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mmrag_lab.encoders.visualized_bge import bert
from mmrag_lab.encoders.visualized_bge.eva_vit import VisionConfig, VisualModel


class VisualizedBGEModel(nn.Module):
    """The network; parameter names equal the official checkpoint's keys."""

    def __init__(self, vision: VisionConfig, text: bert.TextConfig):
        super().__init__()
        self.bge_embeddings = bert.Embeddings(text)
        self.bge_encoder = bert.Encoder(text)
        self.bge_pooler = bert.Pooler(text)
        self.model_visual = VisualModel(vision)
        self.visual_proj = nn.Linear(vision.width, text.hidden_size)

    def image_tokens(self, pixels: torch.Tensor) -> torch.Tensor:
        """Projected, positioned and normalised patch tokens (class token dropped)."""
        patches = self.model_visual.visual(pixels)[:, 1:]
        tokens = self.visual_proj(patches)
        positions = torch.arange(1, tokens.shape[1] + 1, device=tokens.device)
        tokens = tokens + self.bge_embeddings.position_embeddings(positions)
        return self.bge_embeddings.LayerNorm(tokens)

    def encode_mm(
        self, pixels: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> torch.Tensor:
        """Embed images with their instructions (an empty instruction gives the image embedding)."""
        images = self.image_tokens(pixels)
        n_img, n_txt = images.shape[1], input_ids.shape[1]
        device = input_ids.device
        positions = torch.cat(
            [
                torch.zeros(1, dtype=torch.long, device=device),
                torch.arange(n_img + 1, n_img + n_txt, device=device),
            ]
        )
        text = self.bge_embeddings(input_ids, positions.expand_as(input_ids))
        sequence = torch.cat([text[:, :1], images, text[:, 1:]], dim=1)
        ones = torch.ones(input_ids.shape[0], n_img, dtype=attention_mask.dtype, device=device)
        mask = torch.cat([attention_mask[:, :1], ones, attention_mask[:, 1:]], dim=1)
        return self._pool(self.bge_encoder(sequence, mask))

    def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Plain BGE text embedding."""
        return self._pool(self.bge_encoder(self.bge_embeddings(input_ids), attention_mask))

    @staticmethod
    def _pool(hidden: torch.Tensor) -> torch.Tensor:
        return F.normalize(hidden[:, 0].float(), dim=-1)
