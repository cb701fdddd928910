"""Text attention module (TAM, paper §3.4.1, Figure 2).

Each pixel of a guidance map attends over the N classes: its visual key V_k is compared
with every class's language key L_k, and the softmax weights scale that class's language
value L_v. The per-class result LV is fused with the pixel's visual projection V_f by a
convolution into the hierarchical guidance feature HG (one map per class).
"""
from __future__ import annotations

import torch
from torch import nn

from .layers import conv_norm_act


class TextAttentionModule(nn.Module):
    """HG^i ((B·N)×C_o×H×W) from a guidance map E_u^i (B×C_in×H×W) and text E_Tv (N×C_t)."""

    def __init__(self, text_dim: int, in_channels: int, key_channels: int = 512,
                 out_channels: int = 128):
        super().__init__()
        self.text_key = nn.Linear(text_dim, key_channels)        # L_k
        self.text_value = nn.Linear(text_dim, out_channels)      # L_v
        self.visual_key = nn.Conv2d(in_channels, key_channels, 1)   # V_k
        self.visual_proj = nn.Conv2d(in_channels, out_channels, 1)  # V_f
        self.fuse = conv_norm_act(2 * out_channels, out_channels, 3)
        self.scale = key_channels ** -0.5

    def attention(self, guide: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """Per-pixel weights over the classes: B×N×H×W, summing to 1 over N."""
        keys = self.text_key(text)                                    # N×C_k
        query = self.visual_key(guide)                                # B×C_k×H×W
        return torch.einsum('bkhw,nk->bnhw', query, keys).mul(self.scale).softmax(dim=1)

    def forward(self, guide: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        attn = self.attention(guide, text)
        values = self.text_value(text)                                # N×C_o
        lv = attn[:, :, None] * values[None, :, :, None, None]        # B×N×C_o×H×W
        vf = self.visual_proj(guide)[:, None].expand_as(lv)           # B×N×C_o×H×W
        return self.fuse(torch.cat([lv, vf], dim=2).flatten(0, 1))


class VisualGuidance(nn.Module):
    """The TAM-off ablation: HG^i is the visual projection alone, the same for every class."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.proj = conv_norm_act(in_channels, out_channels, 1)

    def forward(self, guide: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        hg = self.proj(guide)
        return hg.repeat_interleave(text.shape[0], dim=0)             # (B·N)×C_o×H×W
