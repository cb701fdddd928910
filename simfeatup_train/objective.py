"""One view's losses: multi-view feature reconstruction (FeatUp) and image content retention.

    hr      = upsampler(lr_feats, image)                  the features to learn
    hr_jit  = jitter(hr)                                   the same view as the jittered image
    L_rec   = mean(|P·σ↓(hr_jit) − P·CLIP(jit_image)|² / 2s² + log s),  s = N(CLIP(jit_image))
    L_img   = mean(|CRN(hr_jit) − jit_image|²)             image in [-1, 1]
    loss    = (L_rec + γ·L_img) / n_jitters                P: a random C→30 projection
"""
from __future__ import annotations

import torch
from torch import nn

from .jitter import Jitter, apply_jitter
from .modules import (AttentionDownsampler, ContentRetentionNet, UncertaintyNet, project,
                      uncertainty_loss, unit_range)


class SimFeatUpObjective(nn.Module):
    """The upsampler and its three training companions; `forward` gives one view's losses.

    One module, so that DDP wraps (and averages the gradients of) everything trained.
    """

    def __init__(self, upsampler: nn.Module, feat_dim: int, down_kernel: int = 16):
        super().__init__()
        if not hasattr(upsampler, 'forward_naive'):
            raise ValueError(f'{type(upsampler).__name__} has nothing to train: train jbu_one '
                             'or jbu_stack')
        self.upsampler = upsampler
        self.downsampler = AttentionDownsampler(feat_dim, down_kernel)
        self.scale_net = UncertaintyNet(feat_dim)
        self.crn = ContentRetentionNet(feat_dim)

    def upsample(self, lr_feats: torch.Tensor, img: torch.Tensor) -> torch.Tensor:
        """`upsampler.forward_naive(lr_feats, img)`, computed on the h·w token basis.

        The JBU chain is linear in the features and the same for every channel, so chain(S) =
        S · chain(E) for the C×h·w token features S and the h·w one-hot token maps E. When
        h·w < C (196 < 512 for ViT-B/16 at 224, 49 for /32) the chain runs on fewer maps; the
        CLIP features carry no gradient, so nothing else changes (same dropout, same grads).
        """
        b, c, h, w = lr_feats.shape
        n = h * w
        if n >= c:
            return self.upsampler.forward_naive(lr_feats, img)
        self.upsampler.check_grid(lr_feats)
        eye = torch.eye(n, device=lr_feats.device, dtype=lr_feats.dtype)
        basis = self.upsampler.upsample_linear(eye.reshape(1, n, h, w).expand(b, n, h, w), img)
        y = torch.einsum('bcn,bnhw->bchw', lr_feats.reshape(b, c, n), basis)
        return y + 0.1 * self.upsampler.fixup_proj(y)

    def forward(self, img: torch.Tensor, lr_feats: torch.Tensor, jit_img: torch.Tensor,
                lr_jit_feats: torch.Tensor, jitter: Jitter, proj: torch.Tensor | None):
        """(L_rec, L_img) for one view; inputs are the CLIP-normalised image, its features,
        the jittered image and its features, the view and the random projection."""
        hr_jit = apply_jitter(self.upsample(lr_feats, img), Jitter(*jitter))
        down = self.downsampler(hr_jit, lr_jit_feats.shape[-2:])
        scale = self.scale_net(lr_jit_feats)
        rec = uncertainty_loss(project(down, proj), project(lr_jit_feats, proj), scale)
        img_loss = (self.crn(hr_jit) - unit_range(jit_img)).square().mean()
        return rec, img_loss
