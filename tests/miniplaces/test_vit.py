"""Attention vs nn.MultiheadAttention, window round trips, SimpleViT shapes and a training step."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from miniplaces.custom_blocks import window_partition, window_unpartition
from miniplaces.student_code import Attention, SimpleViT, TransformerBlock, default_vit_model


def test_attention_matches_multihead_attention():
    torch.manual_seed(0)
    dim, heads = 24, 4
    ours = Attention(dim, num_heads=heads, qkv_bias=True)
    ref = nn.MultiheadAttention(dim, heads, bias=True, batch_first=True)
    with torch.no_grad():  # same weights: packed in-projection and output projection
        ref.in_proj_weight.copy_(ours.qkv.weight)
        ref.in_proj_bias.copy_(ours.qkv.bias)
        ref.out_proj.weight.copy_(ours.proj.weight)
        ref.out_proj.bias.copy_(ours.proj.bias)
    x = torch.randn(3, 5, 4, dim)                                  # (B, H, W, C)
    tokens = x.reshape(3, 20, dim)
    want, _ = ref(tokens, tokens, tokens, need_weights=False)
    torch.testing.assert_close(ours(x), want.reshape(3, 5, 4, dim), atol=1e-5, rtol=1e-5)


def test_attention_mixes_positions():
    """Changing one token changes the others' outputs (attention is global, not per-token)."""
    torch.manual_seed(0)
    attn = Attention(16, num_heads=2)
    x = torch.randn(1, 3, 3, 16)
    y = x.clone()
    y[0, 0, 0] += 5
    assert (attn(x) - attn(y))[0, 2, 2].abs().max() > 1e-4


@pytest.mark.parametrize("hw,ws", [((8, 8), 4), ((7, 5), 4), ((3, 10), 3), ((2, 2), 4)])
def test_window_partition_round_trip_with_padding(hw, ws):
    x = torch.randn(2, *hw, 6)
    windows, pad_hw = window_partition(x, ws)
    assert windows.shape[1:] == (ws, ws, 6)
    assert pad_hw[0] % ws == 0 and pad_hw[1] % ws == 0 and pad_hw[0] >= hw[0] and pad_hw[1] >= hw[1]
    assert windows.shape[0] == 2 * (pad_hw[0] // ws) * (pad_hw[1] // ws)
    torch.testing.assert_close(window_unpartition(windows, ws, pad_hw, hw), x, atol=0, rtol=0)
    # The first window is exactly the top-left ws x ws corner (zero-padded where the map ends).
    corner = torch.zeros(ws, ws, 6)
    h, w = min(ws, hw[0]), min(ws, hw[1])
    corner[:h, :w] = x[0, :h, :w]
    torch.testing.assert_close(windows[0], corner, atol=0, rtol=0)


def test_windowed_block_attends_only_inside_windows():
    torch.manual_seed(0)
    block = TransformerBlock(16, num_heads=2, window_size=2).eval()
    with torch.no_grad():  # larger weights than the ViT init, so cross-token effects are far above rounding
        for p in block.parameters():
            p.normal_(0, 0.3)
    x = torch.randn(1, 4, 4, 16)
    y = x.clone()
    y[0, 0, 0] += 5 * torch.randn(16)                              # window (0, 0); not a constant (LN removes those)
    diff = (block(x) - block(y)).abs().amax(-1)[0]                 # (H, W)
    assert diff[:2, :2].max() > 1e-4 and diff[2:, :].max() == 0 and diff[:, 2:].max() == 0
    global_block = TransformerBlock(16, num_heads=2, window_size=0).eval()
    global_block.load_state_dict(block.state_dict())
    assert (global_block(x) - global_block(y)).abs()[0, 3, 3].max() > 1e-4


def test_simplevit_shapes_and_training_step():
    torch.manual_seed(0)
    model = default_vit_model(num_classes=7, img_size=64)
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 7)
    assert SimpleViT()(torch.randn(1, 3, 128, 128)).shape == (1, 100)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x, y = torch.randn(4, 3, 64, 64), torch.tensor([0, 1, 2, 3])
    losses = []
    for _ in range(5):
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    assert losses[-1] < losses[0]
