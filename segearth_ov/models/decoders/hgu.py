"""Hierarchical guided upsampling (HGU, paper §3.4.2, eq. (5), Figure 3) and the guidance
deconvolution of eq. (4)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import conv_norm_act, group_count


class GuidanceUpsampler(nn.Module):
    """E_u^i = ConvTranspose2d(C_m → C_o^i, kernel = stride = 2^i) of an intermediate map.

    Output size is exactly 2^i × the input's, odd sizes included. A GroupNorm follows
    (our choice: CLIP's raw residual stream has a few channels hundreds of times larger
    than the rest, which would otherwise dominate the TAM's attention logits).
    """

    def __init__(self, in_channels: int, out_channels: int, level: int, norm: bool = True):
        super().__init__()
        factor = 2 ** level
        self.deconv = nn.ConvTranspose2d(in_channels, out_channels, factor, stride=factor)
        self.norm = nn.GroupNorm(group_count(out_channels), out_channels) if norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.deconv(x))


class HierarchicalGuidedUpsampling(nn.Module):
    """HD^i from the previous stage ((B·N)×C_in×h×w: F_a, then HD^{i-1}) and HG^i.

    The previous stage is deconvolved (kernel = stride = 2) to HG^i's size and to
    `concat_channels − C_o^i` channels (paper: C − C_o), concatenated with HG^i, and fused
    by two 3×3 convolutions into C_o^i channels.
    """

    def __init__(self, in_channels: int, guide_channels: int, concat_channels: int):
        super().__init__()
        up_channels = concat_channels - guide_channels
        if up_channels < 1:
            raise ValueError(f'hgu_channels ({concat_channels}) must exceed the guidance '
                             f'channels C_o ({guide_channels})')
        self.up = nn.ConvTranspose2d(in_channels, up_channels, 2, stride=2)
        self.fuse = nn.Sequential(conv_norm_act(concat_channels, guide_channels, 3),
                                  conv_norm_act(guide_channels, guide_channels, 3))

    def forward(self, x: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        up = self.up(x)
        if up.shape[-2:] != guide.shape[-2:]:
            up = F.interpolate(up, size=guide.shape[-2:], mode='bilinear', align_corners=False)
        return self.fuse(torch.cat([up, guide], dim=1))
