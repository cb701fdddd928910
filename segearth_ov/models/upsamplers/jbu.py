"""SimFeatUp: joint bilateral upsampling (JBU) of CLIP patch features, guided by the image.

The released code evaluates the last step of each JBU (a per-pixel D×D weighted sum) with a
CUDA kernel, or on CPU by unfolding the full-resolution map into D²·C channels (over 12 GB for
one 224 window at C = 512). Here, on CPU, that sum is an accumulation over the D² offsets
(`adaptive_conv`), so memory stays at a few C×H×W maps; the small C kernels of segearth_ov/ops
compute the same sums faster (bicubic ×2 and the weighted sum, `neighbour_dot`), with the
PyTorch code as fallback and test oracle. On a GPU those 121-step loops would be thousands of
tiny kernel launches per window, so there (`batched_path`) the same sums are one unfold and
one product per chunk of rows, the chunk bounded in memory (`adaptive_conv_unfold`,
`neighbour_dot_unfold`), and kernel maps are computed in large bands (`band_pixels`).

Everything before `fixup_proj` is linear in the source features with weights that depend on
the guidance only, and `fixup_proj` is affine, so `JBUOne`/`JBUStack` run the chain on a
basis of rank ≤ min(C, h·w + 1) and the features are that basis times the result, exactly
(`_JBUChain.reduced`).

Every upsampler answers one call, `upsample(source, guidance, kernels=None, fast=True) →
(features, basis)`: the features are `basis · features` when a basis is returned (B×C×r), else
the features themselves; `kernels` are one window's guidance kernels cut from a `KernelAtlas`
(only upsamplers with `atlas_kernels = True` take them); `fast=False` is the straightforward
path (all C channels, plain PyTorch). The caller's autocast applies, except where an upsampler
needs float32.
"""
from __future__ import annotations

import contextlib
import math
import threading
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from ...ops import cpu_kernels
from ...utils.advice import how_to_set
from ...utils.parallel import inherit, parallel_map

_fixup = threading.local()


@contextlib.contextmanager
def fixup_dtype(dtype: torch.dtype | None):
    """Within this block (this thread and its `parallel_map` workers), the kernels' fixup
    (the 1×1 convolutions D²+3 → D² → D², `pointwise`) multiplies in `dtype` (bf16 on the bf16
    path) and returns float32. Why only there: it is most of the kernels' arithmetic (measured:
    the kernels of a 448² image take 16–20 % less time), and its result enters the kernel
    scaled by 0.1, so bf16 moves each weight by < 0.3 % of the largest (measured); the range
    kernel's projections feed a temperature softmax and stay float32, as does everything
    downstream."""
    before = getattr(_fixup, 'dtype', None)
    _fixup.dtype = dtype
    try:
        yield
    finally:
        _fixup.dtype = before


inherit(lambda: getattr(_fixup, 'dtype', None), fixup_dtype)


def _needs_grad(*tensors: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


class _AdaptiveConvGrad(torch.autograd.Function):
    """`adaptive_conv` for training, with a backward that accumulates into one buffer.

    Autograd's own backward of the offset loop allocates and fills a padded-size gradient
    for every one of the D² slices (121 for 11×11): most of a training step's time.
    """

    @staticmethod
    def forward(ctx, padded, kernel):
        padded, kernel = padded.contiguous(), kernel.contiguous()   # per-offset slices: dense
        ctx.save_for_backward(padded, kernel)
        return adaptive_conv(padded, kernel)        # grad mode is off in here

    @staticmethod
    def backward(ctx, grad):
        padded, kernel = ctx.saved_tensors
        grad = grad.contiguous()
        d = math.isqrt(kernel.shape[1])
        h, w = kernel.shape[-2:]
        g_pad = torch.zeros_like(padded) if ctx.needs_input_grad[0] else None
        g_ker = torch.empty_like(kernel) if ctx.needs_input_grad[1] else None
        for a in range(d):
            for c in range(d):
                k = a * d + c
                if g_pad is not None:
                    g_pad[:, :, a:a + h, c:c + w].addcmul_(grad, kernel[:, k:k + 1])
                if g_ker is not None:
                    g_ker[:, k] = (grad * padded[:, :, a:a + h, c:c + w]).sum(1)
        return g_pad, g_ker


class _NeighbourDotGrad(torch.autograd.Function):
    """`neighbour_dot` for training, with a backward that accumulates into one buffer each."""

    @staticmethod
    def forward(ctx, query, padded, d):
        query, padded = query.contiguous(), padded.contiguous()
        ctx.save_for_backward(query, padded)
        ctx.d = d
        return neighbour_dot(query, padded, d)       # grad mode is off in here

    @staticmethod
    def backward(ctx, grad):
        query, padded = ctx.saved_tensors
        grad = grad.contiguous()
        d = ctx.d
        h, w = query.shape[-2:]
        g_q = torch.zeros_like(query) if ctx.needs_input_grad[0] else None
        g_pad = torch.zeros_like(padded) if ctx.needs_input_grad[1] else None
        for a in range(d):
            for c in range(d):
                gk = grad[:, a * d + c:a * d + c + 1]
                if g_q is not None:
                    g_q.addcmul_(padded[:, :, a:a + h, c:c + w], gk)
                if g_pad is not None:
                    g_pad[:, :, a:a + h, c:c + w].addcmul_(query, gk)
        return g_q, g_pad, None


# Pixels per band when a kernel map is computed in row bands (see `kernel_in_bands`): on
# CPU a band stays in cache between the kernel's passes; on a GPU, bands only bound memory
# (≈ 3 KB a pixel at D = 11: 1 M pixels ≈ 3 GB).
KERNEL_BAND_PIXELS = 4096
GPU_BAND_PIXELS = 1 << 20
# Bytes of the unfolded C·D²×pixels block the batched path builds at a time.
UNFOLD_CHUNK_BYTES = 512 << 20


def batched_path(t: torch.Tensor) -> bool:
    """Whether the sums over the D×D neighbours run batched (unfold: a few launches per
    chunk of rows) rather than as a loop over the D² offsets: on every device but the CPU."""
    return t.device.type != 'cpu'


def band_pixels(t: torch.Tensor) -> int:
    return GPU_BAND_PIXELS if batched_path(t) else KERNEL_BAND_PIXELS


def _unfolded_rows(padded: torch.Tensor, d: int, h: int, w: int):
    """(y0, y1, cols): padded's D×D neighbourhoods of output rows y0:y1 as B×C×D²×n
    (n = (y1-y0)·W, index a·D+c as in the kernels), chunks of ≤ UNFOLD_CHUNK_BYTES."""
    b, c = padded.shape[:2]
    row_bytes = 2 * b * c * d * d * w * padded.element_size()   # the block and one product
    rows = max(1, min(h, UNFOLD_CHUNK_BYTES // max(row_bytes, 1)))
    for y0 in range(0, h, rows):
        y1 = min(h, y0 + rows)
        cols = F.unfold(padded[:, :, y0:y1 + d - 1], d)         # B × C·D² × (y1-y0)·W
        yield y0, y1, cols.view(b, c, d * d, (y1 - y0) * w)


def adaptive_conv_unfold(padded: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """`adaptive_conv` batched: per chunk of rows, one unfold and one weighted sum
    (differentiable by autograd, which keeps the chunks: for inference)."""
    b, d2, h, w = kernel.shape
    d = math.isqrt(d2)
    out = padded.new_empty(b, padded.shape[1], h, w, dtype=torch.result_type(padded, kernel))
    for y0, y1, cols in _unfolded_rows(padded, d, h, w):
        k = kernel[:, :, y0:y1].reshape(b, 1, d2, -1)
        out[:, :, y0:y1] = (cols * k).sum(2).view(b, -1, y1 - y0, w)
    return out


def neighbour_dot_unfold(query: torch.Tensor, padded: torch.Tensor, d: int) -> torch.Tensor:
    """`neighbour_dot` batched: per chunk of rows, one unfold and one dot product."""
    b, c, h, w = query.shape
    out = query.new_empty(b, d * d, h, w, dtype=torch.result_type(query, padded))
    for y0, y1, cols in _unfolded_rows(padded, d, h, w):
        q = query[:, :, y0:y1].reshape(b, c, 1, -1)
        out[:, :, y0:y1] = (cols * q).sum(1).view(b, -1, y1 - y0, w)
    return out


def adaptive_conv(padded: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """out[b, c, i, j] = Σ_{a,b'} kernel[b, a·D+b', i, j] · padded[b, c, i+a, j+b'].

    padded: B×C×(H+D-1)×(W+D-1); kernel: B×D²×H×W. On CPU one offset at a time, so the
    B×C×D²×H×W unfolded tensor of the reference is never built (memory: a few B×C×H×W
    maps); `apply_kernel` uses the compiled twin in segearth_ov/ops instead when it can.
    On a GPU, `adaptive_conv_unfold` (the unfolded tensor a chunk of rows at a time).
    """
    if _needs_grad(padded, kernel):
        return _AdaptiveConvGrad.apply(padded, kernel)
    if batched_path(padded):
        return adaptive_conv_unfold(padded, kernel)
    b, d2, h, w = kernel.shape
    d = math.isqrt(d2)
    out = padded.new_zeros(padded.shape[0], padded.shape[1], h, w)
    for a in range(d):
        for c in range(d):
            out.addcmul_(padded[:, :, a:a + h, c:c + w], kernel[:, a * d + c:a * d + c + 1])
    return out


def pointwise(seq: nn.Sequential, *parts: torch.Tensor, dtype: torch.dtype | None = None
              ) -> torch.Tensor:
    """`seq(torch.cat(parts, 1))` for a stack of 1×1 convs / activations, as GEMMs over pixels.

    A 1×1 conv on a planar (NCHW) map is one matrix product, W (out×in) @ X (in×pixels), much
    faster on CPU than the generic convolution, and the first conv takes the parts one weight
    slice at a time, so the concatenation is never built. The result stays planar.
    `dtype` (bf16): the products in that precision (`fixup_dtype`), the result float32.
    """
    if seq.training or not isinstance(seq[0], nn.Conv2d) or any(
            not x.is_contiguous() for x in parts):
        return seq(torch.cat(parts, 1) if len(parts) > 1 else parts[0])
    out_dtype = parts[0].dtype
    cast = (lambda t: t.to(dtype)) if dtype not in (None, out_dtype) else (lambda t: t)
    b, _, h, w = parts[0].shape
    first, start = seq[0], 0
    weight = cast(first.weight.flatten(1))
    y = cast(first.bias).view(-1, 1).expand(-1, h * w)
    for x in parts:
        n = x.shape[1]
        y = torch.matmul(weight[:, start:start + n], cast(x).view(b, n, h * w)) + y
        start += n
    for m in list(seq)[1:]:
        if isinstance(m, nn.Conv2d):
            y = torch.baddbmm(cast(m.bias).view(1, -1, 1).expand(b, -1, h * w),
                              cast(m.weight.flatten(1)).expand(b, -1, -1), y)
        elif not isinstance(m, nn.Dropout2d):   # eval: dropout is the identity
            y = m(y)      # GELU
    return y.view(b, -1, h, w).to(out_dtype)


def neighbour_dot(query: torch.Tensor, padded: torch.Tensor, d: int) -> torch.Tensor:
    """out[b, a·d+c, i, j] = ⟨query[b, :, i, j], padded[b, :, i+a, j+c]⟩: B×d²×H×W."""
    if _needs_grad(query, padded):
        return _NeighbourDotGrad.apply(query, padded, d)
    if batched_path(query):
        return neighbour_dot_unfold(query, padded, d)
    if cpu_kernels.available(query, padded):
        return cpu_kernels.local_dot(query, padded, d)
    h, w = query.shape[-2:]
    return torch.stack([(padded[:, :, a:a + h, c:c + w] * query).sum(1)
                        for a in range(d) for c in range(d)], dim=1)


class JBULearnedRange(nn.Module):
    """One ×2 joint bilateral upsampling step with a learned range kernel (FeatUp's JBU)."""

    def __init__(self, guidance_dim: int = 3, key_dim: int = 32, radius: int = 3):
        super().__init__()
        self.radius = radius
        self.diameter = 2 * radius + 1
        self.key_dim = key_dim
        d2 = self.diameter ** 2
        self.range_temp = nn.Parameter(torch.tensor(0.0))
        self.range_proj = nn.Sequential(
            nn.Conv2d(guidance_dim, key_dim, 1), nn.GELU(), nn.Dropout2d(0.1),
            nn.Conv2d(key_dim, key_dim, 1))
        self.sigma_spatial = nn.Parameter(torch.tensor(1.0))
        self.fixup_proj = nn.Sequential(
            nn.Conv2d(guidance_dim + d2, d2, 1), nn.GELU(), nn.Dropout2d(0.1),
            nn.Conv2d(d2, d2, 1))

    def range_kernel(self, guidance: torch.Tensor, region=None) -> torch.Tensor:
        """Softmax over the D² neighbours of the projected-guidance dot products: B×D²×H×W.

        `region=(y0, y1, x0, x1)` computes it at those pixels only, still with the whole
        guidance's reflected border (what `KernelAtlas` needs for window borders).
        """
        proj = pointwise(self.range_proj, guidance)
        padded = F.pad(proj, [self.radius] * 4, mode='reflect')
        if region is not None:
            y0, y1, x0, x1 = region
            proj = proj[:, :, y0:y1, x0:x1]
            padded = padded[:, :, y0:y1 + 2 * self.radius, x0:x1 + 2 * self.radius]
        logits = neighbour_dot(proj, padded, self.diameter)
        temp = self.range_temp.exp().clamp(1e-4, 1e4)
        return F.softmax(temp * logits, dim=1)

    def spatial_kernel(self, device, dtype) -> torch.Tensor:
        """Gaussian over a D×D grid of coordinates in [-1, 1]: 1×D²×1×1."""
        coords = torch.linspace(-1, 1, self.diameter, device=device, dtype=dtype)
        sq = coords[:, None] ** 2 + coords[None, :] ** 2
        return torch.exp(-sq / (2 * self.sigma_spatial.to(dtype) ** 2)).reshape(1, -1, 1, 1)

    def kernel(self, guidance: torch.Tensor, region=None) -> torch.Tensor:
        """The per-pixel D² weights of this step; they depend on the guidance only.

        Each pixel's weights depend on the guidance in its D×D neighbourhood (reflected at the
        guidance's border); `region` restricts the computation to a rectangle of pixels.
        Without a gradient, large maps are computed in bands of rows (`kernel_in_bands`).
        """
        b, _, h, w = guidance.shape
        if (region is None and not _needs_grad(guidance, *self.parameters())
                and b * h * w > 2 * band_pixels(guidance)):
            return self.kernel_in_bands(guidance)
        k = self.range_kernel(guidance, region) * self.spatial_kernel(guidance.device,
                                                                      guidance.dtype)
        k = k / k.sum(1, keepdim=True).clamp(min=1e-7)
        if region is not None:
            y0, y1, x0, x1 = region
            guidance = guidance[:, :, y0:y1, x0:x1].contiguous()
        fix = pointwise(self.fixup_proj, k, guidance, dtype=getattr(_fixup, 'dtype', None))
        return torch.add(k, fix, alpha=0.1)

    def kernel_in_bands(self, guidance: torch.Tensor) -> torch.Tensor:
        """`kernel(guidance)` computed a band of rows at a time into one output.

        Why: the kernel's dozen elementwise passes (softmax, GELU, normalisation) over a
        D²-channel map are bound by memory traffic; a band of ~4k pixels (≈ 2 MB at D = 11)
        stays in cache between passes, the whole map does not. Each band reads the guidance
        rows it needs (± radius), so the result is the same as in one piece. On CPU the bands
        run side by side (`parallel_map`). On a GPU the bands are large (`band_pixels`) and
        run one after the other.
        """
        out, jobs = self.kernel_band_jobs(guidance)
        parallel_map(lambda job: job(), jobs, guidance.device)
        return out

    def kernel_band_jobs(self, guidance: torch.Tensor):
        """(out, jobs): the empty kernel map and one job per band of rows that fills it.

        `out` is channels-last when the compiled weighted sum will read it (the bands' copies
        into it do the transposition). Jobs write disjoint rows: they may run in any order.
        """
        b, _, h, w = guidance.shape
        rows = max(1, band_pixels(guidance) // max(b * w, 1))
        fmt = torch.channels_last if cpu_kernels.available(guidance) else torch.contiguous_format
        out = torch.empty(b, self.diameter ** 2, h, w, dtype=guidance.dtype,
                          device=guidance.device, memory_format=fmt)

        def band(y0):
            y1 = min(h, y0 + rows)
            c0, c1 = max(y0 - self.radius, 0), min(y1 + self.radius, h)
            cut = guidance[:, :, c0:c1].contiguous()
            out[:, :, y0:y1] = self.kernel(cut, (y0 - c0, y1 - c0, 0, w))

        return out, [partial(band, y0) for y0 in range(0, h, rows)]

    def apply_kernel(self, source: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
        """Bicubic ×2 of `source` to the kernel's size, then the per-pixel weighted sum."""
        size = kernel.shape[-2:]
        doubled = tuple(size) == tuple(2 * n for n in source.shape[-2:])
        if doubled and not batched_path(source) and cpu_kernels.available(source, kernel):
            return cpu_kernels.upsample_and_weighted_sum(source, kernel, self.radius)
        hr = F.interpolate(source, size=size, mode='bicubic', align_corners=False)
        hr = F.pad(hr, [self.radius] * 4, mode='reflect')
        return adaptive_conv(hr, kernel)

    def forward(self, source: torch.Tensor, guidance: torch.Tensor,
                kernel: torch.Tensor | None = None) -> torch.Tensor:
        """One ×2 step; `kernel` may be given when it was computed beforehand (KernelAtlas)."""
        return self.apply_kernel(source, self.kernel(guidance) if kernel is None else kernel)


def _float32(t: torch.Tensor):
    """The caller's autocast switched off (nothing changes where none is on)."""
    dev = t.device.type
    if torch.is_autocast_enabled(dev):
        return torch.autocast(dev, enabled=False)
    return contextlib.nullcontext()


class _JBUChain(nn.Module):
    """A chain of ×2 JBU steps followed by `y + 0.1·conv1x1(y)`.

    `steps()` lists the JBU module used for each ×2 step; the number of steps is
    log2(patch size), so a /16 backbone takes 4 and a /32 one 5.
    """

    # the steps' kernels depend on the guidance only: a KernelAtlas can share them
    atlas_kernels = True

    def __init__(self, feat_dim: int, num_steps: int):
        super().__init__()
        self.feat_dim = feat_dim
        self.num_steps = num_steps
        self.fixup_proj = nn.Sequential(nn.Dropout2d(0.2), nn.Conv2d(feat_dim, feat_dim, 1))

    def steps(self) -> list[JBULearnedRange]:
        raise NotImplementedError

    def upsample(self, source: torch.Tensor, guidance: torch.Tensor,
                 kernels: list | None = None, fast: bool = True):
        """(features, basis), see the module docstring: `reduced` in float32 (the thin QR has
        no half-precision kernel), or with fast=False `forward_naive` (basis None) in plain
        PyTorch under the caller's autocast."""
        if not fast:
            with cpu_kernels.disabled():
                return self.forward_naive(source, guidance), None
        with _float32(source):
            return self.reduced(source, guidance, kernels)

    def upsample_linear(self, source: torch.Tensor, guidance: torch.Tensor,
                        kernels: list | None = None) -> torch.Tensor:
        """The chain before `fixup_proj`: linear in `source`, weights from the guidance.

        `kernels`: the steps' kernels computed beforehand (`KernelAtlas.window`), if any.
        """
        for i, up in enumerate(self.steps()):
            if kernels is not None:
                source = up(source, None, kernels[i])
                continue
            h, w = source.shape[-2:]
            source = up(source, F.adaptive_avg_pool2d(guidance, (2 * h, 2 * w)).contiguous())
        return source

    def check_grid(self, source: torch.Tensor) -> None:
        radius = max(up.radius for up in self.steps())
        if 2 * min(source.shape[-2:]) <= radius:
            min_tokens = radius // 2 + 1
            raise ValueError(
                f'SimFeatUp (radius {radius}) needs a feature grid of at least {min_tokens}×'
                f'{min_tokens} tokens, got {tuple(source.shape[-2:])}: the image (or window) is '
                f'too small. Use a larger image, or run without SimFeatUp: '
                f'{how_to_set("no_upsampler")}.')

    def reduced(self, source: torch.Tensor, guidance: torch.Tensor, kernels: list | None = None):
        """The upsampled features in a basis of rank r ≤ min(C, h·w + 1): f = Q·g, exactly.

        Returns (g: B×r×H×W, Q: B×C×r, or None when no reduction pays off and f = g).
        Why it is exact: the JBU chain is linear in the features and identical per channel,
        and the final `y + 0.1·(W y + b)` is affine, so with A = I + 0.1 W and
        [A S, 0.1 b] = Q R (thin QR, S the C×h·w token features), f = Q (chain(R_S) + r_b).
        The chain then runs on r channels instead of C, and ‖f‖ = ‖g‖, f·t = g·(Qᵀt).
        `kernels` (one window, B = 1): the steps' kernels, cut from a `KernelAtlas`.
        """
        self.check_grid(source)
        b, c, h, w = source.shape
        n = h * w
        conv = self.fixup_proj[1]
        a = torch.eye(c, device=source.device, dtype=source.dtype) + \
            0.1 * conv.weight.reshape(c, c).to(source.dtype)
        beta = 0.1 * conv.bias.to(source.dtype)
        gs, qs = [], []
        for i in range(b):
            feats = a @ source[i].reshape(c, n)                    # C×n
            if n + 1 < c:
                q, r = torch.linalg.qr(torch.cat([feats, beta[:, None]], 1))
                coef, bias = r[:, :n], r[:, n]
                qs.append(q)
            else:
                coef, bias = feats, beta
            coef = coef.reshape(1, -1, h, w)
            if cpu_kernels.available(coef):   # the compiled kernels read channels-last
                coef = coef.contiguous(memory_format=torch.channels_last)
            g = self.upsample_linear(coef, guidance[i:i + 1], kernels)
            gs.append(g.add_(bias.reshape(1, -1, 1, 1)))    # g is the chain's own new map
        return (torch.cat(gs) if b > 1 else gs[0]), (torch.stack(qs) if qs else None)

    def forward_naive(self, source: torch.Tensor, guidance: torch.Tensor) -> torch.Tensor:
        """The straightforward path: the chain on all C channels, then the fixup (debugging,
        and the baseline that benchmarks compare against)."""
        self.check_grid(source)
        y = self.upsample_linear(source, guidance)
        return y + 0.1 * self.fixup_proj(y)

    def forward(self, source: torch.Tensor, guidance: torch.Tensor) -> torch.Tensor:
        g, q = self.reduced(source, guidance)
        if q is None:
            return g
        return torch.einsum('bcr,brhw->bchw', q, g)


class JBUOne(_JBUChain):
    """SegEarth-OV's SimFeatUp: one shared JBU (radius 5, 11×11) applied log2(p) times."""

    def __init__(self, feat_dim: int, num_steps: int = 4, radius: int = 5, key_dim: int = 32):
        super().__init__(feat_dim, num_steps)
        self.up = JBULearnedRange(3, key_dim, radius)

    def steps(self):
        return [self.up] * self.num_steps


class JBUStack(_JBUChain):
    """FeatUp's stack: a separate JBU (radius 3) per ×2 step."""

    def __init__(self, feat_dim: int, num_steps: int = 4, radius: int = 3, key_dim: int = 32):
        super().__init__(feat_dim, num_steps)
        for i in range(num_steps):
            self.add_module(f'up{i + 1}', JBULearnedRange(3, key_dim, radius))

    def steps(self):
        return [getattr(self, f'up{i + 1}') for i in range(self.num_steps)]


class BilinearUp(nn.Module):
    """Parameter-free baseline: bilinear resize of the features to the guidance size."""

    atlas_kernels = False

    def __init__(self, feat_dim: int = 0, num_steps: int = 4):
        super().__init__()

    def upsample(self, source, guidance, kernels=None, fast: bool = True):
        """(features, None): one path, under the caller's autocast; `kernels` are not used."""
        return self(source, guidance), None

    def forward(self, source, guidance):
        return F.interpolate(source, size=guidance.shape[-2:], mode='bilinear', align_corners=False)


UPSAMPLERS = {'jbu_one': JBUOne, 'jbu_stack': JBUStack, 'bilinear': BilinearUp}


def build_upsampler(model_name: str, feat_dim: int, patch_size: int = 16,
                    model_path: str | None = None, allow_random: bool = False) -> nn.Module:
    """Build a SimFeatUp upsampler and load its checkpoint (`upsampler.`-prefixed keys):
    `model_path`, else the released weights of `model_name` (see upsamplers/weights.py).

    Raises a ValueError naming both widths when the checkpoint was trained for another C.
    `allow_random=True` keeps a random initialisation (benchmarks, training from scratch).
    """
    if model_name not in UPSAMPLERS:
        raise ValueError(f"unknown upsampler {model_name!r}; valid: {', '.join(UPSAMPLERS)}")
    num_steps = int(round(math.log2(patch_size)))
    if 2 ** num_steps != patch_size:
        raise ValueError(f'SimFeatUp needs a power-of-two patch size, got {patch_size}')
    up = UPSAMPLERS[model_name](feat_dim, num_steps=num_steps)
    if model_path or (model_name != 'bilinear' and not allow_random):
        load_upsampler_checkpoint(up, model_path, model_name)   # no path: the released file
    return up.eval()


def load_upsampler_checkpoint(module: nn.Module, path: str | None, model_name: str = 'jbu_one') -> None:
    """Load a SimFeatUp `*.ckpt` ({'state_dict': {'upsampler.<key>': ...}}) into `module`;
    `path=None` means `model_name`'s released file (downloaded and verified on first use)."""
    from ...utils.checkpoints import read_state_dict
    from .weights import resolve_upsampler_weights
    path = resolve_upsampler_weights(model_name, path)
    state = read_state_dict(path)
    prefix = 'upsampler.'
    state = {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in state.items()}
    # Keys that exist in both but have a different width: name both widths.
    own = module.state_dict()
    fix_w = state.get('fixup_proj.1.weight')
    if fix_w is not None and fix_w.shape != own['fixup_proj.1.weight'].shape:
        raise ValueError(
            f'SimFeatUp checkpoint {path} was trained for features of width {fix_w.shape[0]}, '
            f'but this backbone gives width {own["fixup_proj.1.weight"].shape[0]}: use the '
            'upsampler weights trained for this CLIP backbone.')
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise ValueError(
            f'SimFeatUp checkpoint {path} does not match {type(module).__name__}: '
            f'missing {missing[:4]}{"…" if len(missing) > 4 else ""}, '
            f'unexpected {unexpected[:4]}{"…" if len(unexpected) > 4 else ""}. '
            "Is model_name ('jbu_one' / 'jbu_stack') the one it was trained as?")
    for k, v in state.items():
        if v.shape != own[k].shape:
            raise ValueError(f'SimFeatUp checkpoint {path}: {k} has shape {tuple(v.shape)}, '
                             f'expected {tuple(own[k].shape)}')
    module.load_state_dict(state)
