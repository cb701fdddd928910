"""What is trained beside the upsampler and thrown away afterwards, and the loss terms.

- `AttentionDownsampler` (FeatUp's σ↓): turns jittered high-res features back into one
  feature per patch, so they can be compared with the CLIP features of the jittered image;
- `UncertaintyNet`: a per-token scale s that lets the loss discount tokens no view explains;
- `ContentRetentionNet` (the paper's CRN): rebuilds the image from the high-res features,
  so they cannot drop content that the round trip through σ↓ would not notice.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from segearth_ov.models.backbones.constants import CLIP_MEAN, CLIP_STD


def gaussian_kernel1d(size: int = 5, sigma: float = 1.0) -> torch.Tensor:
    """Normalised samples of exp(-x²/2σ²) at x = -(size//2) … size//2."""
    x = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    k = torch.exp(-x ** 2 / (2 * sigma ** 2))
    return k / k.sum()


def gaussian_blur(x: torch.Tensor, size: int = 5, sigma: float = 1.0) -> torch.Tensor:
    """Separable per-channel Gaussian blur with reflect borders (a constant map stays constant)."""
    c = x.shape[1]
    k = gaussian_kernel1d(size, sigma).to(x)
    pad = size // 2
    x = F.pad(x, [pad] * 4, mode='reflect')
    x = F.conv2d(x, k.view(1, 1, 1, size).expand(c, 1, 1, size), groups=c)
    return F.conv2d(x, k.view(1, 1, size, 1).expand(c, 1, size, 1), groups=c)


class AttentionDownsampler(nn.Module):
    """σ↓: one feature per kernel×kernel window, an attention-weighted mean of the window.

    A linear layer scores every position of a window from its (blurred) feature; the scores
    are scaled and shifted by a learned weight and bias per window position, softmaxed over
    the window, and weight the features. In training, the scores of 20 % of the windows are
    zeroed (the released training's dropout), so the learned position prior alone decides.
    """

    def __init__(self, feat_dim: int, kernel_size: int = 16, score_dropout: float = 0.2,
                 blur_size: int = 5, blur_sigma: float = 1.0):
        super().__init__()
        self.kernel_size = kernel_size
        self.score_dropout = score_dropout
        self.blur_size, self.blur_sigma = blur_size, blur_sigma
        self.score = nn.Linear(feat_dim, 1)
        k2 = kernel_size * kernel_size
        self.w = nn.Parameter(torch.ones(k2) + 0.01 * torch.randn(k2))
        self.b = nn.Parameter(0.01 * torch.randn(k2))

    def strides(self, size: tuple[int, int], out_size: tuple[int, int]) -> tuple[int, int]:
        """Strides that put `out_size` windows across `size` (16 for 224 → 14 with kernel 16)."""
        k = self.kernel_size
        strides = []
        for n, m in zip(size, out_size):
            if n < k:
                raise ValueError(f'downsampler kernel {k} is larger than the {size} features; '
                                 'use a larger crop_size or a smaller down_kernel')
            strides.append(max(1, (n - k) // (m - 1)) if m > 1 else 1)
            if (m - 1) * strides[-1] + k > n:
                raise ValueError(f'cannot place {m} windows of {k} across {n} pixels')
        return tuple(strides)

    def forward(self, feats: torch.Tensor, out_size: tuple[int, int]) -> torch.Tensor:
        b, c, h, w = feats.shape
        k2 = self.kernel_size ** 2
        stride = self.strides((h, w), out_size)
        x = gaussian_blur(feats, self.blur_size, self.blur_sigma)
        windows = F.unfold(x, self.kernel_size, stride=stride)          # B×(C·k²)×L
        windows = windows.view(b, c, k2, -1).permute(0, 3, 2, 1)         # B×L×k²×C
        scores = self.score(windows).squeeze(-1)                         # B×L×k²
        if self.training and self.score_dropout > 0:
            keep = torch.rand(b, scores.shape[1], 1, device=scores.device) >= self.score_dropout
            scores = scores * keep
        attn = F.softmax(scores * self.w + self.b, dim=-1)
        out = torch.einsum('blkc,blk->bcl', windows, attn)
        return out.reshape(b, c, *out_size)


class UncertaintyNet(nn.Module):
    """s = exp(conv1×1(features) + 0.1), at least 1e-4: a scale per low-res token."""

    def __init__(self, feat_dim: int):
        super().__init__()
        self.net = nn.Conv2d(feat_dim, 1, 1)
        with torch.no_grad():     # start near s = exp(0.1) everywhere
            self.net.weight.mul_(0.1)
            self.net.bias.mul_(0.1)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return torch.exp(self.net(feats) + 0.1).clamp_min(1e-4)


class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channels of a B×C×H×W map (each pixel normalised on its own)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ContentRetentionNet(nn.Sequential):
    """CRN: 1×1 conv C→C, LayerNorm over channels, GELU, 1×1 conv C→3, Tanh (image in [-1, 1])."""

    def __init__(self, feat_dim: int):
        super().__init__(nn.Conv2d(feat_dim, feat_dim, 1), ChannelLayerNorm(feat_dim), nn.GELU(),
                         nn.Conv2d(feat_dim, 3, 1), nn.Tanh())


def random_projection(batch: int, feat_dim: int, dim: int = 30,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """B×C×dim Gaussian matrices with unit columns: the features are compared in `dim` random
    directions, a new set per view (cheaper than all C, and no direction is favoured)."""
    proj = torch.randn(batch, feat_dim, dim, generator=generator)
    return proj / proj.norm(dim=1, keepdim=True)


def project(feats: torch.Tensor, proj: torch.Tensor | None) -> torch.Tensor:
    """B×C×H×W features → B×dim×H×W along the columns of `proj` (None: unchanged)."""
    return feats if proj is None else torch.einsum('bchw,bcd->bdhw', feats, proj)


def uncertainty_loss(pred: torch.Tensor, target: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """mean((pred - target)² / (2 s²) + log s): a Gaussian likelihood with predicted scale s."""
    return ((pred - target).square() / (2 * scale.square()) + scale.log()).mean()


_MEAN = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
_STD = torch.tensor(CLIP_STD).view(1, 3, 1, 1)


def normalise(img_uint8: torch.Tensor) -> torch.Tensor:
    """B×3×H×W uint8 RGB → CLIP-normalised float, as the segmentor's data preprocessor does."""
    return (img_uint8.float() - _MEAN.to(img_uint8.device)) / _STD.to(img_uint8.device)


def unit_range(img: torch.Tensor) -> torch.Tensor:
    """CLIP-normalised image → pixels scaled to [-1, 1], the range of the CRN's Tanh."""
    return (img * _STD.to(img) + _MEAN.to(img)) / 127.5 - 1.0


def pca_basis(feats: torch.Tensor, dims: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean C, C×dims top principal directions) of C×N features; deterministic (eigh)."""
    mean = feats.mean(1)
    x = feats - mean[:, None]
    cov = x @ x.T / max(1, x.shape[1] - 1)
    _, vecs = torch.linalg.eigh(cov.double())
    basis = vecs[:, -dims:].flip(1).to(feats.dtype)
    signs = torch.sign(basis.sum(0) + 1e-12)    # fix each direction's sign: stable colours
    return mean, basis * signs
