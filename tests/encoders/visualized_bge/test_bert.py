"""The text tower's embeddings: positions as upstream numbers them."""

from __future__ import annotations

import torch


def test_roberta_style_positions_start_after_padding():
    """bge-m3's text side (XLM-RoBERTa) numbers plain-text positions from pad_id + 1, like upstream."""
    from mmrag_lab.encoders.visualized_bge.bert import Embeddings, TextConfig

    cfg = TextConfig(
        vocab_size=50,
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=20,
        type_vocab_size=1,
        layer_norm_eps=1e-5,
        pad_token_id=1,
        model_type="xlm-roberta",
    )
    ids = torch.tensor([[0, 5, 6, 2, 1, 1]])
    assert Embeddings(cfg).default_positions(ids).tolist() == [[2, 3, 4, 5, 1, 1]]
    assert cfg.max_text_tokens == 18 and cfg.max_instruction_tokens(16) == 4
