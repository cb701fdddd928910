"""PEA image encoder (paper §3.2, Algorithm 1): a frozen open_clip ViT at any input size.

The positional table is resized by bicubic interpolation *to the target grid size*
(H/p × W/p), so a 512² image is encoded at its own resolution instead of being shrunk
to 224². The encoder returns the token maps of chosen intermediate blocks and the final
projected embedding, both without the class token (§3.3: it carries a global bias).
"""
from __future__ import annotations

import math

import torch

from ..backbones.clip_vit import CLIPViTFeatures, embed_tokens, resize_pos_embed

PAPER_LAYERS, PAPER_DEPTH = (7, 15), 24   # ViT-L/14's guidance blocks (1-indexed), §4.2


def pea_positional_embedding(pos: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Algorithm 1: (1+g², W) table → (1+h·w, W); class row kept, grid bicubic to size (h, w).

    At the native grid the original table is returned unchanged.
    """
    return resize_pos_embed(pos, h, w, 'size')


def scale_layers(depth: int, layers=None) -> tuple[int, ...]:
    """Guidance blocks (1-indexed) for a ViT of `depth` blocks.

    Default: the paper's 7 and 15 of 24, at the same fractions of other depths
    (ViT-B: 4 and 8; a 3-block test model: 1 and 2).
    """
    if layers is None:
        layers = tuple(max(1, min(depth, math.floor(l * depth / PAPER_DEPTH + 0.5)))
                       for l in PAPER_LAYERS)
    layers = tuple(int(l) for l in layers)
    if not layers or any(not 1 <= l <= depth for l in layers) or list(layers) != sorted(set(layers)):
        raise ValueError(f'guidance_layers {layers} must be increasing block numbers in '
                         f'1..{depth} (1-indexed, this ViT has {depth} blocks)')
    return layers


class PEAViTEncoder(CLIPViTFeatures):
    """Intermediate token maps (B×width×h×w each) and E_I (B×C×h×w) of an open_clip ViT.

    `pea=False` (the ablation of Table 3) uses the table only at its native grid: the
    segmentor then resizes images to the model's native size first.
    """

    def __init__(self, visual, layers=None, pea: bool = True):
        super().__init__(visual, model_type='vanilla')
        depth = len(visual.transformer.resblocks)
        self.layers = scale_layers(depth, layers)
        self.pea = pea

    @property
    def width(self) -> int:
        return self.visual.conv1.out_channels

    @property
    def native_size(self) -> tuple[int, int]:
        size = getattr(self.visual, 'image_size', 224)
        return tuple(size) if isinstance(size, (tuple, list)) else (size, size)

    def embed(self, img: torch.Tensor):
        v = self.visual
        h, w = img.shape[-2] // v.conv1.stride[0], img.shape[-1] // v.conv1.stride[1]
        g = int(round(math.sqrt(v.positional_embedding.shape[0] - 1)))
        if not self.pea and (h, w) != (g, g):
            raise ValueError(f'with pea=False the image must be {self.native_size} '
                             f'(a {g}×{g} grid), got a {w}×{h} grid; resize it first')
        return embed_tokens(v, img, 'size')

    def forward(self, img: torch.Tensor):
        """Returns ([E_m^i: B×width×h×w for each guidance layer], E_I: B×C×h×w)."""
        x, (h, w) = self.embed(img)
        blocks = self.visual.transformer.resblocks
        intermediates, done = [], 0
        for layer in self.layers:
            x = self._blocks(x, blocks[done:layer])
            done = layer
            intermediates.append(self._to_map(x, h, w))
        x = self._blocks(x, blocks[done:])
        tokens = self.visual.ln_post(x) @ self.visual.proj
        return intermediates, self._to_map(tokens, h, w)

    @staticmethod
    def _to_map(tokens: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """B×(1+h·w)×C tokens → B×C×h×w map, the class token dropped (eq. (1))."""
        return tokens[:, 1:].transpose(1, 2).reshape(tokens.shape[0], -1, h, w)
