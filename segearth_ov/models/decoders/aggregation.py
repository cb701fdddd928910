"""Feature aggregation (FA, paper §3.3) and the two alternatives of its ablation (Table 4).

All variants return one C-channel map per (image, class): (B·N)×C×h×w, classes folded into
the batch (index b·N + n), so no weight depends on the number of classes.
"""
from __future__ import annotations

import torch
from torch import nn

FA_MODES = ('product', 'similarity', 'cost')


def _unit(x: torch.Tensor, dim: int) -> torch.Tensor:
    return x / x.norm(dim=dim, keepdim=True).clamp_min(1e-6)


class FeatureAggregation(nn.Module):
    """F_a for image embeddings E_Iv (B×C×h×w) and class text embeddings.

    - `product` (the paper's, eq. (3)): F_a[b, n] = E_Iv[b] ⊙ E_Tv[n], channel by channel.
      The paper does not say whether the embeddings are normalised; with `normalize=True`
      (default) both are L2-normalised and the product is multiplied by C, so that the
      channel mean of F_a[b, n] is the CLIP cosine similarity and its entries are O(1).
    - `similarity`: the cosine map (1 channel) lifted to C channels by a 3×3 convolution
      (our reading of "similarity-based fusion").
    - `cost`: a CAT-Seg-style cost volume — one cosine map per template (P channels) —
      embedded into C channels by a 7×7 convolution (CAT-Seg's cost embedding).
    """

    def __init__(self, embed_dim: int, mode: str = 'product', num_templates: int = 1,
                 normalize: bool = True):
        super().__init__()
        if mode not in FA_MODES:
            raise ValueError(f'unknown fa {mode!r}; valid: {", ".join(FA_MODES)}')
        self.mode, self.normalize, self.embed_dim = mode, normalize, embed_dim
        if mode == 'similarity':
            self.lift = nn.Conv2d(1, embed_dim, 3, padding=1)
        elif mode == 'cost':
            self.lift = nn.Conv2d(num_templates, embed_dim, 7, padding=3)

    def forward(self, image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """image B×C×h×w; text N×C (`product`, `similarity`) or N×P×C (`cost`)."""
        b, c, h, w = image.shape
        if text.shape[-1] != c:
            raise ValueError(f'text embeddings have {text.shape[-1]} channels, image '
                             f'embeddings {c}: both must come from the same CLIP model')
        if self.mode == 'product':
            if text.dim() != 2:
                raise ValueError(f'product FA takes N×C text embeddings, got {tuple(text.shape)}')
            if self.normalize:
                image, text = _unit(image, 1), _unit(text, 1) * c
            out = image[:, None] * text[None, :, :, None, None]          # B×N×C×h×w
            return out.flatten(0, 1)
        image = _unit(image, 1)
        if self.mode == 'similarity':
            if text.dim() != 2:
                raise ValueError(f'similarity FA takes N×C text embeddings, got {tuple(text.shape)}')
            cos = torch.einsum('bchw,nc->bnhw', image, _unit(text, 1))
            return self.lift(cos.reshape(-1, 1, h, w))
        if text.dim() != 3:
            raise ValueError(f'cost FA takes N×P×C (per-template) text embeddings, got '
                             f'{tuple(text.shape)}')
        cost = torch.einsum('bchw,npc->bnphw', image, _unit(text, 2))
        return self.lift(cost.flatten(0, 1))
