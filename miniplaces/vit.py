"""The course's SimpleViT: pre-norm transformer blocks on a 2-D token map.

Attention works on ``(B, H, W, C)`` maps so that some blocks can attend inside local
windows (ViTDet) and others globally.  The softmax attention itself is
``F.scaled_dot_product_attention`` (fused kernels on CPU and GPU); the tests check it
against ``nn.MultiheadAttention`` with copied weights.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from miniplaces.custom_blocks import DropPath, Mlp, PatchEmbed, window_partition, window_unpartition


class Attention(nn.Module):
    """Multi-head self-attention over all positions of a ``(B, H, W, C)`` map."""

    def __init__(self, dim, num_heads=8, qkv_bias=True):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} must be divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, height, width, dim = x.shape
        qkv = self.qkv(x).reshape(batch, height * width, 3, self.num_heads, dim // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)             # each (B, nh, N, hd)
        out = F.scaled_dot_product_attention(q, k, v)               # softmax(q k^T / sqrt(hd)) v
        out = out.transpose(1, 2).reshape(batch, height, width, dim)  # (B, H, W, C)
        return self.proj(out)


class TransformerBlock(nn.Module):
    """Pre-norm block: ``x + DropPath(Attn(LN(x)))``, then ``x + DropPath(MLP(LN(x)))``.

    ``window_size > 0`` restricts attention to non-overlapping windows (padded when the
    map is not a multiple of the window size); 0 means global attention.
    """

    def __init__(self, dim, num_heads, mlp_ratio=4.0, qkv_bias=True, drop_path=0.0, norm_layer=nn.LayerNorm,
                 act_layer=nn.GELU, window_size=0):
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = Attention(dim, num_heads=num_heads, qkv_bias=qkv_bias)
        self.drop_path = DropPath(drop_path)
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_layer=act_layer)
        self.window_size = window_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.norm1(x)
        if self.window_size > 0:
            hw = x.shape[1:3]
            x, pad_hw = window_partition(x, self.window_size)        # (B*nW, ws, ws, C)
            x = self.attn(x)
            x = window_unpartition(x, self.window_size, pad_hw, hw)  # (B, H, W, C)
        else:
            x = self.attn(x)
        x = shortcut + self.drop_path(x)
        return x + self.drop_path(self.mlp(self.norm2(x)))


class SimpleViT(nn.Module):
    """Vision Transformer for 128x128 MiniPlaces: patches -> blocks -> mean pool -> linear."""

    def __init__(self, img_size=128, num_classes=100, patch_size=16, in_chans=3, embed_dim=192, depth=4,
                 num_heads=4, mlp_ratio=4.0, qkv_bias=True, drop_path_rate=0.1, norm_layer=nn.LayerNorm,
                 act_layer=nn.GELU, use_abs_pos=True, window_size=4, window_block_indexes=(0, 2)):
        super().__init__()
        if img_size % patch_size:
            raise ValueError(f"img_size {img_size} must be a multiple of patch_size {patch_size}")
        grid = img_size // patch_size
        self.patch_embed = PatchEmbed(patch_size, in_chans, embed_dim)
        # Learned absolute position embedding, one vector per patch position.
        self.pos_embed = nn.Parameter(torch.zeros(1, grid, grid, embed_dim)) if use_abs_pos else None
        rates = torch.linspace(0, drop_path_rate, depth).tolist()  # stochastic depth grows with depth
        self.blocks = nn.ModuleList(
            TransformerBlock(embed_dim, num_heads, mlp_ratio, qkv_bias, rates[i], norm_layer, act_layer,
                             window_size if i in window_block_indexes else 0)
            for i in range(depth))
        self.norm = norm_layer(embed_dim)
        self.head = nn.Linear(embed_dim, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        if self.pos_embed is not None:
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)                                      # (B, h, w, D)
        if self.pos_embed is not None:
            x = x + self.pos_embed
        for block in self.blocks:
            x = block(x)
        x = self.norm(x).mean(dim=(1, 2))                            # (B, D)
        return self.head(x)
