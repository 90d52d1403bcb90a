"""A BERT / XLM-RoBERTa encoder whose module names match the Visualized BGE checkpoint's ``bge_*`` keys.

Owning these ~100 lines keeps the model independent of the transformers library's internal call
signatures, and lets the image tokens be spliced in between [CLS] and the instruction.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class TextConfig:
    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    model_type: str = "bert"

    @classmethod
    def from_dict(cls, raw: dict) -> TextConfig:
        known = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
        return cls(**known)

    @property
    def padding_positions(self) -> bool:
        """RoBERTa-style models number positions after the padding index."""
        return self.model_type in ("xlm-roberta", "roberta")

    @property
    def max_text_tokens(self) -> int:
        """Longest plain text (with special tokens) whose positions fit the table."""
        offset = self.pad_token_id + 1 if self.padding_positions else 0
        return self.max_position_embeddings - offset

    def max_instruction_tokens(self, image_tokens: int) -> int:
        """Longest instruction (with [CLS]/[SEP]) that fits next to ``image_tokens`` image tokens.

        Upstream numbers the instruction after the image tokens, so both share one position table.
        """
        return max(self.max_position_embeddings - image_tokens, 2)


class Embeddings(nn.Module):
    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.cfg = cfg
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def default_positions(self, input_ids: torch.Tensor) -> torch.Tensor:
        if self.cfg.padding_positions:
            real = input_ids.ne(self.cfg.pad_token_id).long()
            return torch.cumsum(real, dim=1) * real + self.cfg.pad_token_id
        return torch.arange(input_ids.shape[1], device=input_ids.device).expand_as(input_ids)

    def forward(self, input_ids: torch.Tensor, position_ids: torch.Tensor | None = None) -> torch.Tensor:
        if position_ids is None:
            position_ids = self.default_positions(input_ids)
        x = self.word_embeddings(input_ids) + self.position_embeddings(position_ids)
        x = x + self.token_type_embeddings.weight[0]
        return self.LayerNorm(x)


class SelfAttention(nn.Module):
    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.heads = cfg.num_attention_heads
        self.query = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.key = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.value = nn.Linear(cfg.hidden_size, cfg.hidden_size)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, tokens, width = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, tokens, self.heads, -1).transpose(1, 2)

        out = F.scaled_dot_product_attention(
            split(self.query(x)), split(self.key(x)), split(self.value(x)), mask
        )
        return out.transpose(1, 2).reshape(batch, tokens, width)


class DenseNorm(nn.Module):
    """``LayerNorm(dense(x) + residual)``, BERT's output sub-layer."""

    def __init__(self, d_in: int, d_out: int, eps: float):
        super().__init__()
        self.dense = nn.Linear(d_in, d_out)
        self.LayerNorm = nn.LayerNorm(d_out, eps=eps)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class AttentionBlock(nn.Module):
    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.self = SelfAttention(cfg)
        self.output = DenseNorm(cfg.hidden_size, cfg.hidden_size, cfg.layer_norm_eps)


class Intermediate(nn.Module):
    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.intermediate_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(x))


class Layer(nn.Module):
    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.attention = AttentionBlock(cfg)
        self.intermediate = Intermediate(cfg)
        self.output = DenseNorm(cfg.intermediate_size, cfg.hidden_size, cfg.layer_norm_eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.attention.output(self.attention.self(x, mask), x)
        return self.output(self.intermediate(x), x)


class Encoder(nn.Module):
    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.layer = nn.ModuleList(Layer(cfg) for _ in range(cfg.num_hidden_layers))

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Run all layers; ``attention_mask`` is (batch, tokens) with 1 for real tokens."""
        additive = torch.zeros(attention_mask.shape, dtype=x.dtype, device=x.device)
        additive = additive.masked_fill(attention_mask == 0, torch.finfo(x.dtype).min)[:, None, None, :]
        for layer in self.layer:
            x = layer(x, additive)
        return x


class Pooler(nn.Module):
    """Present in the checkpoint; Visualized BGE pools the [CLS] state directly and never calls it."""

    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
