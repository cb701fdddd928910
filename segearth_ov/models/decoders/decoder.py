"""The HG-RSOVSSeg decoder: FA → n × (guidance deconv → TAM → HGU) → per-class logit head.

Classes are a batch-like axis everywhere: the same weights score any number of classes.
"""
from __future__ import annotations

import torch
from torch import nn

from .aggregation import FeatureAggregation
from .hgu import GuidanceUpsampler, HierarchicalGuidedUpsampling
from .layers import conv_norm_act
from .tam import TextAttentionModule, VisualGuidance


class HierarchicalDecoder(nn.Module):
    """Logits B×N×(2^n·h)×(2^n·w) from E_I (B×C×h×w), guidance maps and text embeddings.

    Args:
        embed_dim: C, the CLIP embedding width (image E_I and text E_Tv).
        width: C_m, the ViT's token width (intermediate maps).
        c_o: guidance channels per level (paper default [128, 64]; n = len(c_o)).
        c_k: TAM key channels (paper default 512).
        fa: 'product' (paper), 'similarity' or 'cost' (Table 4).
        tam: False replaces TAM by the visual projection alone (Table 3).
        hgu: False drops the hierarchical stages: F_a → 3×3 conv → head (Table 3, row 1).
        hgu_channels: width of HGU's concatenation (paper: C); None = embed_dim.
        num_templates: P, needed by the `cost` variant.
    """

    def __init__(self, embed_dim: int, width: int, c_o=(128, 64), c_k: int = 512,
                 fa: str = 'product', tam: bool = True, hgu: bool = True,
                 hgu_channels: int | None = None, num_templates: int = 1,
                 fa_normalize: bool = True):
        super().__init__()
        self.c_o = tuple(int(c) for c in c_o)
        if not self.c_o or any(c < 1 for c in self.c_o):
            raise ValueError(f'c_o must list ≥ 1 positive channel counts, got {c_o}')
        self.use_hgu = hgu
        self.aggregation = FeatureAggregation(embed_dim, fa, num_templates, fa_normalize)
        if hgu:
            concat = hgu_channels or embed_dim
            self.guides = nn.ModuleList(
                GuidanceUpsampler(width, c, level) for level, c in enumerate(self.c_o, 1))
            self.attention = nn.ModuleList(
                TextAttentionModule(embed_dim, c, c_k, c) if tam else VisualGuidance(c, c)
                for c in self.c_o)
            ins = (embed_dim,) + self.c_o[:-1]
            self.stages = nn.ModuleList(
                HierarchicalGuidedUpsampling(i, c, concat) for i, c in zip(ins, self.c_o))
        else:
            self.neck = conv_norm_act(embed_dim, self.c_o[-1], 3)
        self.head = nn.Conv2d(self.c_o[-1], 1, 1)   # one logit per (pixel, class)

    @property
    def num_levels(self) -> int:
        return len(self.c_o)

    def forward(self, image: torch.Tensor, intermediates, text: torch.Tensor,
                text_per_template: torch.Tensor | None = None) -> torch.Tensor:
        b, n = image.shape[0], text.shape[0]
        fa_text = text_per_template if self.aggregation.mode == 'cost' else text
        x = self.aggregation(image, fa_text)                           # (B·N)×C×h×w
        if self.use_hgu:
            if len(intermediates) != self.num_levels:
                raise ValueError(f'{len(intermediates)} guidance maps for {self.num_levels} '
                                 'levels: guidance_layers and c_o must have the same length')
            for guide, tam, stage, e_m in zip(self.guides, self.attention, self.stages,
                                              intermediates):
                hg = tam(guide(e_m), text)                             # HG^i
                x = stage(x, hg)                                       # HD^i
        else:
            x = self.neck(x)
        logits = self.head(x)
        return logits.reshape(b, n, *logits.shape[-2:])
