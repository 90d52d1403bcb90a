"""The EVA vision tower's rotary position tables."""

from __future__ import annotations

import torch

from mmrag_lab.encoders.visualized_bge.eva_vit import rotary_tables


def test_rotary_tables_have_the_checkpoint_buffer_shape():
    cos, sin = rotary_tables(head_dim=64, grid=14, trained_grid=16)
    assert cos.shape == sin.shape == (196, 64)
    # position 0 is (row 0, col 0): no rotation at all
    assert torch.allclose(cos[0], torch.ones(64)) and torch.allclose(sin[0], torch.zeros(64))
    # interleaved pairs share one frequency
    assert torch.equal(cos[:, 0::2], cos[:, 1::2])
