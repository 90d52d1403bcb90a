"""The EVA02-CLIP vision tower used by Visualized BGE (sub-LN attention, SwiGLU MLP, 2-D rotary positions).

Module names mirror the official checkpoint (``model_visual.visual.*``) so its state dict loads as is.
The rotary tables are computed here, never loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

LN_EPS = 1e-6


@dataclass(frozen=True)
class VisionConfig:
    image_size: int = 224
    patch_size: int = 16
    width: int = 768
    layers: int = 12
    head_width: int = 64
    mlp_ratio: float = 2.6667
    embed_dim: int = 512  # CLIP head output; loaded, unused by Visualized BGE
    pt_hw_seq_len: int = 16  # grid the rotary frequencies were trained at

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    @property
    def num_patches(self) -> int:
        return self.grid**2

    @property
    def heads(self) -> int:
        return self.width // self.head_width


def rotary_tables(head_dim: int, grid: int, trained_grid: int, theta: float = 10000.0):
    """cos/sin tables of shape (grid*grid, head_dim) for 2-D rotary embeddings on interleaved pairs.

    The first half of each head rotates with the row index, the second half with the column index;
    positions are rescaled from ``grid`` to ``trained_grid`` (frequency interpolation).
    """
    quarter = head_dim // 4
    inv_freq = 1.0 / (theta ** (torch.arange(0, 2 * quarter, 2)[:quarter].float() / (2 * quarter)))
    positions = torch.arange(grid).float() / grid * trained_grid
    angles = torch.einsum("i,f->if", positions, inv_freq).repeat_interleave(2, dim=-1)
    rows = angles[:, None, :].expand(grid, grid, -1)
    cols = angles[None, :, :].expand(grid, grid, -1)
    table = torch.cat([rows, cols], dim=-1).reshape(grid * grid, -1)
    return table.cos(), table.sin()


def _rotate_pairs(x: torch.Tensor) -> torch.Tensor:
    pairs = x.unflatten(-1, (-1, 2))
    return torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate every token but the first (the class token keeps its position-free form)."""
    head, patches = x[:, :, :1], x[:, :, 1:]
    rotated = patches * cos + _rotate_pairs(patches) * sin
    return torch.cat([head, rotated.type_as(x)], dim=2)


class Attention(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.q_proj = nn.Linear(width, width, bias=False)
        self.k_proj = nn.Linear(width, width, bias=False)
        self.v_proj = nn.Linear(width, width, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(width))
        self.v_bias = nn.Parameter(torch.zeros(width))
        self.inner_attn_ln = nn.LayerNorm(width, eps=LN_EPS)
        self.proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        batch, tokens, width = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, tokens, self.heads, -1).transpose(1, 2)

        q = split(F.linear(x, self.q_proj.weight, self.q_bias))
        k = split(self.k_proj(x))
        v = split(F.linear(x, self.v_proj.weight, self.v_bias))
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        out = F.scaled_dot_product_attention(q, k, v)
        out = out.transpose(1, 2).reshape(batch, tokens, width)
        return self.proj(self.inner_attn_ln(out))


class SwiGLU(nn.Module):
    def __init__(self, width: int, hidden: int):
        super().__init__()
        self.w1 = nn.Linear(width, hidden)
        self.w2 = nn.Linear(width, hidden)
        self.ffn_ln = nn.LayerNorm(hidden, eps=LN_EPS)
        self.w3 = nn.Linear(hidden, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w3(self.ffn_ln(F.silu(self.w1(x)) * self.w2(x)))


class Block(nn.Module):
    def __init__(self, cfg: VisionConfig):
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.width, eps=LN_EPS)
        self.attn = Attention(cfg.width, cfg.heads)
        self.norm2 = nn.LayerNorm(cfg.width, eps=LN_EPS)
        self.mlp = SwiGLU(cfg.width, int(cfg.width * cfg.mlp_ratio))

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), cos, sin)
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, cfg: VisionConfig):
        super().__init__()
        self.proj = nn.Conv2d(3, cfg.width, kernel_size=cfg.patch_size, stride=cfg.patch_size)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.proj(pixels).flatten(2).transpose(1, 2)


class VisionTower(nn.Module):
    """Returns every token (class token first) after the last block, before the final norm."""

    def __init__(self, cfg: VisionConfig):
        super().__init__()
        self.cfg = cfg
        self.patch_embed = PatchEmbed(cfg)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.width))
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.num_patches + 1, cfg.width))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(cfg.width, eps=LN_EPS)
        self.head = nn.Linear(cfg.width, cfg.embed_dim)
        cos, sin = rotary_tables(cfg.head_width, cfg.grid, cfg.pt_hw_seq_len)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(pixels.to(self.pos_embed.dtype))
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        cos, sin = self.rope_cos.to(x.dtype), self.rope_sin.to(x.dtype)
        for block in self.blocks:
            x = block(x, cos, sin)
        return x


class VisualModel(nn.Module):
    """Holds the tower under the checkpoint's ``visual`` name next to CLIP's unused ``logit_scale``."""

    def __init__(self, cfg: VisionConfig):
        super().__init__()
        self.visual = VisionTower(cfg)
        self.logit_scale = nn.Parameter(torch.zeros([]))
