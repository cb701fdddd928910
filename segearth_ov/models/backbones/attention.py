"""Training-free attention variants for the last ViT block(s), one small function each.

Each function maps the per-head queries, keys and values (B×heads×N×d, N = 1 + h·w tokens,
class token first) to attention weights A (B×heads×N×N); the block's output is then
out_proj(A·v). The sums are not renormalised, as in the reference.
"""
from __future__ import annotations

import torch


def _self_softmax(x: torch.Tensor, scale: float) -> torch.Tensor:
    return torch.softmax(x @ x.transpose(-2, -1) * scale, dim=-1)


def vanilla(q, k, v, scale, grid):
    return torch.softmax(q @ k.transpose(-2, -1) * scale, dim=-1)


def maskclip(q, k, v, scale, grid):
    """Each token attends to itself only (MaskCLIP keeps the value path)."""
    n = q.shape[-2]
    return torch.eye(n, dtype=q.dtype, device=q.device).expand(*q.shape[:-2], n, n)


def sclip(q, k, v, scale, grid):
    return _self_softmax(q, scale) + _self_softmax(k, scale)


def clearclip(q, k, v, scale, grid):
    return _self_softmax(q, scale)


def segearth(q, k, v, scale, grid):
    return _self_softmax(q, scale) + _self_softmax(k, scale) + _self_softmax(v, scale)


def neighbourhood_gaussian(h: int, w: int, device=None, dtype=None, sigma: float = 1.0):
    """NACLIP's additive bias: exp(-d²/2σ²) between grid cells; 0 in the class token row/col."""
    ys, xs = torch.meshgrid(torch.arange(h, device=device, dtype=dtype),
                            torch.arange(w, device=device, dtype=dtype), indexing='ij')
    pts = torch.stack([ys.flatten(), xs.flatten()], 1)
    d2 = ((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1)
    g = torch.zeros(h * w + 1, h * w + 1, device=device, dtype=dtype)
    g[1:, 1:] = torch.exp(-d2 / (2 * sigma ** 2))
    return g


def naclip(q, k, v, scale, grid):
    g = neighbourhood_gaussian(*grid, device=q.device, dtype=q.dtype)
    return torch.softmax(k @ k.transpose(-2, -1) * scale + g, dim=-1)


ATTENTIONS = {
    'vanilla': vanilla,
    'MaskCLIP': maskclip,
    'SCLIP': sclip,
    'ClearCLIP': clearclip,
    'SegEarth': segearth,
    'NACLIP': naclip,
}
# GEM runs two streams through several blocks, so it lives in clip_vit.py, not in this table.
MODEL_TYPES = tuple(ATTENTIONS) + ('GEM',)


def gem_attention(q, k, v, inv_temp):
    """GEM's self-self attention (one iteration) averaged over q, k and v: B×heads×N×d."""
    import torch.nn.functional as F
    out = 0
    for s in (q, k, v):
        s_hat = F.normalize(s, dim=-1)
        s = torch.softmax(s_hat @ s_hat.transpose(-2, -1) * inv_temp, dim=-1) @ s_hat
        s_hat = F.normalize(s, dim=-1)
        out = out + torch.softmax(s_hat @ s_hat.transpose(-2, -1) * inv_temp, dim=-1) @ v
    return out / 3
