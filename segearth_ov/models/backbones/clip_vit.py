"""Run open_clip's VisionTransformer with modified last block(s), as SegEarth-OV does.

Nothing of open_clip is copied: this reads the modules of the pip `VisionTransformer`
(conv1, class/positional embeddings, ln_pre, resblocks, ln_post, proj) and runs the
last blocks itself (docs/method.md §2 and §2a).
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn

from .attention import ATTENTIONS, MODEL_TYPES, gem_attention

GEM_DEPTH = 7  # GEM modifies the last GEM_DEPTH - 1 blocks


def check_model_type(model_type: str) -> None:
    if model_type not in MODEL_TYPES:
        raise ValueError(f"unknown model_type {model_type!r}; valid: {', '.join(MODEL_TYPES)}")


POS_MODES = ('scale', 'size', 'size_antialias')


def resize_pos_embed(pos: torch.Tensor, h: int, w: int, mode: str = 'scale') -> torch.Tensor:
    """Positional table (1+g², W) → (1+h·w, W), bicubic; the class position is kept.

    Three resizings, each kept bit-for-bit with the code it reproduces:
    'scale' — the reference SegEarth-OV: scale factors ((h+0.1)/g, (w+0.1)/g);
    'size' — to the target size (HG-RSOVSSeg's PEA, its Algorithm 1);
    'size_antialias' — to the target size with antialiasing (GEM).
    At the native grid the table is returned unchanged.
    """
    if mode not in POS_MODES:
        raise ValueError(f'unknown positional resizing {mode!r}; valid: {", ".join(POS_MODES)}')
    g = int(round((pos.shape[0] - 1) ** 0.5))
    if g * g != pos.shape[0] - 1:
        raise ValueError(f'positional table of {pos.shape[0]} rows is not 1 + a square grid')
    if (h, w) == (g, g):
        return pos
    cls, patch = pos[:1], pos[1:].reshape(1, g, g, -1).permute(0, 3, 1, 2)
    if mode == 'scale':
        patch = F.interpolate(patch, scale_factor=((h + 0.1) / g, (w + 0.1) / g),
                              mode='bicubic', align_corners=False)
    else:
        patch = F.interpolate(patch.float(), size=(h, w), mode='bicubic', align_corners=False,
                              antialias=mode == 'size_antialias').to(pos.dtype)
    assert patch.shape[-2:] == (h, w), (patch.shape, h, w)
    return torch.cat([cls, patch.permute(0, 2, 3, 1).reshape(h * w, -1)])


def embed_tokens(visual: nn.Module, img: torch.Tensor, pos_mode: str = 'scale'):
    """An open_clip ViT's input tokens for an image of any patch-multiple size.

    Patch embedding, class token, positional table resized to the grid (`resize_pos_embed`),
    patch dropout, `ln_pre`. Returns (B×(1+h·w)×W tokens, (h, w)). One place for it, so the
    segmentor, the trained decoder and the training scripts see the same tokens.
    """
    x = visual.conv1(img)
    h, w = x.shape[-2:]
    x = x.flatten(2).transpose(1, 2)
    cls = visual.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
    x = torch.cat([cls, x], dim=1)
    x = x + resize_pos_embed(visual.positional_embedding, h, w, pos_mode).to(x.dtype)
    x = visual.patch_dropout(x)
    return visual.ln_pre(x), (h, w)


def _autocast(x: torch.Tensor, cast):
    """Autocast in `cast`'s dtype for modules run through their own forward (else nothing)."""
    if cast is None:
        return contextlib.nullcontext()
    return torch.autocast(x.device.type, dtype=cast.dtype)


# QuickGELU's constant: x·σ(1.702x) = silu(1.702x) / 1.702
QUICK_GELU = 1.702


def _plain_block(blk: nn.Module) -> bool:
    """An open_clip ResidualAttentionBlock as the visual tower builds it (self-attention,
    Linear–activation–Linear MLP), which `_block_inference` computes exactly."""
    mlp = getattr(blk, 'mlp', None)
    return (type(blk).__name__ == 'ResidualAttentionBlock' and not hasattr(blk, 'ln_1_kv')
            and isinstance(blk.attn, nn.MultiheadAttention) and blk.attn.batch_first
            and isinstance(mlp, nn.Sequential) and list(dict(mlp.named_children())) ==
            ['c_fc', 'gelu', 'c_proj'] and type(mlp.gelu).__name__ in ('QuickGELU', 'GELU'))


def _same(t):
    return t


class LowPrecisionWeights:
    """bf16/fp16 copies of a ViT's weights, made once and reused: `cast(param)`.

    Why not autocast on CPU: it casts every weight again in every forward (its cast cache
    only keeps parameters that require a gradient; measured, its copies took ~16 % of a bf16
    ViT's time), and it runs the modified last block's q·qᵀ products and softmaxes in bf16,
    which on a ViT-B/16 with CLIP's outlier channels kept only 88 % of the fp32 classes
    (this path: 99.5 %; docs/speed.md § Precision). A copy is remade when its parameter
    changes (data pointer, version, device).
    """

    def __init__(self, dtype: torch.dtype):
        self.dtype = dtype
        self._copies: dict[int, tuple] = {}

    def __call__(self, t: torch.Tensor | None) -> torch.Tensor | None:
        if t is None or t.dtype == self.dtype:
            return t
        stamp = (t.data_ptr(), t._version, t.device)
        hit = self._copies.get(id(t))
        if hit is None or hit[0] != stamp:
            hit = (stamp, t.detach().to(self.dtype))
            self._copies[id(t)] = hit
        return hit[1]

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """A normalised activation in the GEMMs' precision."""
        return x.to(self.dtype)


def _block_inference(blk: nn.Module, x: torch.Tensor, cast=None) -> torch.Tensor:
    """The block's forward without autograd, in fewer passes over memory (same values up to
    float rounding): fused attention (`scaled_dot_product_attention`), and QuickGELU as one
    SiLU pass, its 1.702 folded into the two GEMMs (addmm's alpha).
    Why: outside its GEMMs the ViT spent ~8 % of its time (measured) on separate softmax,
    sigmoid and multiply passes over the N×N attention and the 4·W-wide MLP activations.
    `cast` (a `LowPrecisionWeights`): GEMMs and attention in its dtype, while the residual
    stream x and the layer norms stay float32 (CLIP's outlier channels live there)."""
    w = cast or _same
    low = cast.tokens if cast else _same
    q, k, v, _ = CLIPViTFeatures._qkv(blk, low(blk.ln_1(x)), cast)
    a = CLIPViTFeatures._merge_heads(blk, F.scaled_dot_product_attention(q, k, v), cast)
    x = x + blk.ls_1(a)
    h = low(blk.ln_2(x)).flatten(0, 1)
    fc, proj = blk.mlp.c_fc, blk.mlp.c_proj
    if type(blk.mlp.gelu).__name__ == 'QuickGELU':
        h = torch.addmm(w(fc.bias) * QUICK_GELU, h, w(fc.weight).t(), alpha=QUICK_GELU)
        h = torch.addmm(w(proj.bias), F.silu(h, inplace=True), w(proj.weight).t(),
                        alpha=1 / QUICK_GELU)
    else:
        h = F.linear(blk.mlp.gelu(F.linear(h, w(fc.weight), w(fc.bias))), w(proj.weight),
                     w(proj.bias))
    return x + blk.ls_2(h.view(x.shape[0], x.shape[1], -1))


class CLIPViTFeatures(nn.Module):
    """Dense CLIP features: (cls B×C or None, patches B×C×h×w) for one batch of crops."""

    def __init__(self, visual: nn.Module, model_type: str = 'SegEarth',
                 ignore_residual: bool = True, last_n_layers: int = 1):
        super().__init__()
        check_model_type(model_type)
        blocks = visual.transformer.resblocks
        if not isinstance(blocks[-1].attn, nn.MultiheadAttention):
            raise ValueError(f'{type(visual).__name__} blocks use {type(blocks[-1].attn).__name__};'
                             ' only open_clip ViTs with nn.MultiheadAttention are supported')
        if getattr(visual, 'attn_pool', None) is not None:
            raise ValueError('open_clip ViTs with attentional pooling are not supported')
        self.visual = visual
        self.model_type = model_type
        self.ignore_residual = ignore_residual
        n_blocks = len(blocks)
        if model_type == 'GEM':
            last_n_layers = GEM_DEPTH - 1
        self.last_n = min(last_n_layers, n_blocks)
        if self.last_n < 1:
            raise ValueError(f'ssa_last_n_layers must be ≥ 1, got {last_n_layers}')

    @property
    def patch_size(self) -> int:
        return self.visual.conv1.kernel_size[0]

    @property
    def embed_dim(self) -> int:
        return self.visual.proj.shape[1]

    def _blocks(self, x: torch.Tensor, blocks, cast=None) -> torch.Tensor:
        batch_first = getattr(self.visual.transformer, 'batch_first', True)
        for blk in blocks:
            if not torch.is_grad_enabled() and _plain_block(blk):
                x = _block_inference(blk, x, cast)
                continue
            with _autocast(x, cast):   # other blocks: their own forward, under autocast
                y = blk(x) if batch_first else blk(x.transpose(0, 1)).transpose(0, 1)
            x = y.float() if cast else y
        return x

    def low_precision(self, dtype: torch.dtype | None) -> LowPrecisionWeights | None:
        """The cached `dtype` copies of this ViT's weights (None for float32)."""
        if dtype in (None, torch.float32):
            return None
        copies = self.__dict__.setdefault('_low_precision', {})   # not a module attribute
        if dtype not in copies:
            copies[dtype] = LowPrecisionWeights(dtype)
        return copies[dtype]

    def embed(self, img: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        return embed_tokens(self.visual, img,
                            'size_antialias' if self.model_type == 'GEM' else 'scale')

    @staticmethod
    def _qkv(block: nn.Module, x: torch.Tensor, cast=None):
        attn, w = block.attn, cast or _same
        b, n, c = x.shape
        heads = attn.num_heads
        qkv = F.linear(x, w(attn.in_proj_weight), w(attn.in_proj_bias))
        qkv = qkv.reshape(b, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        return qkv[0], qkv[1], qkv[2], (c // heads) ** -0.5

    @staticmethod
    def _merge_heads(block: nn.Module, out: torch.Tensor, cast=None) -> torch.Tensor:
        b, heads, n, d = out.shape
        proj, w = block.attn.out_proj, cast or _same
        return F.linear(out.transpose(1, 2).reshape(b, n, heads * d), w(proj.weight),
                        w(proj.bias))

    def custom_attention(self, block: nn.Module, x: torch.Tensor, grid, cast=None) -> torch.Tensor:
        """out_proj(A·v) with the variant's attention weights A, on already-normalised x.

        With `cast`, the two projections run in its dtype and the variant's attention in
        float32 (its self-similarity softmaxes are the step SegEarth-OV changes; one block)."""
        q, k, v, scale = self._qkv(block, cast.tokens(x) if cast else x, cast)
        if cast:
            q, k, v = q.float(), k.float(), v.float()
        a = ATTENTIONS[self.model_type](q, k, v, scale, grid) @ v
        out = block.ls_1(self._merge_heads(block, cast.tokens(a) if cast else a, cast))
        return out.float() if cast else out

    def forward(self, img: torch.Tensor, with_cls: bool = False, dtype: torch.dtype | None = None):
        """(cls or None, patches). `dtype` (bf16/fp16): the GEMMs and attention in that
        precision with weights cast once (`LowPrecisionWeights`); the embedding, layer norms
        and residual stream stay float32 and so do the outputs."""
        if with_cls and self.model_type == 'GEM':
            raise ValueError('GEM has no class-token output: use cls_token_lambda=0 with GEM')
        cast = self.low_precision(dtype)
        x, grid = self.embed(img)
        blocks = self.visual.transformer.resblocks
        split = len(blocks) - self.last_n
        x = self._blocks(x, blocks[:split], cast)
        if self.model_type == 'GEM':
            out = self._gem(x, blocks[split:], cast)
        else:
            out = 0
            last = len(blocks) - 1
            for i, blk in enumerate(blocks[split:], start=split):
                y = self.custom_attention(blk, blk.ln_1(x), grid, cast)
                if not self.ignore_residual:
                    y = x + y
                    with _autocast(y, cast):
                        y = y + blk.ls_2(blk.mlp(blk.ln_2(y))).float()
                out = out + y
                if i < last:   # the last block's normal output feeds nothing
                    x = self._blocks(x, [blk], cast)
        if cast:
            tokens = (cast.tokens(self.visual.ln_post(out)) @ cast(self.visual.proj)).float()
        else:
            tokens = self.visual.ln_post(out) @ self.visual.proj
        patches = tokens[:, 1:].transpose(1, 2).reshape(tokens.shape[0], -1, *grid)
        cls = tokens[:, 0] if with_cls else None
        return cls, patches

    def last_block_input(self, img: torch.Tensor) -> torch.Tensor:
        """Patch tokens entering the last block, through `ln_post` and `proj`: B×C×h×w.

        What SimFeatUp is trained to upsample (paper eq. (6)): these tokens come before the
        attention that `model_type` changes, so one upsampler serves every attention variant.
        """
        x, grid = self.embed(img)
        x = self._blocks(x, self.visual.transformer.resblocks[:-1])
        tokens = self.visual.ln_post(x[:, 1:]) @ self.visual.proj
        return tokens.transpose(1, 2).reshape(tokens.shape[0], -1, *grid)

    def _gem(self, x: torch.Tensor, blocks, cast=None) -> torch.Tensor:
        """GEM (docs/method.md §2a): a parameter-free self-self stream beside the normal one.
        With `cast`: projections in its dtype, the self-self attention in float32."""
        g = x
        for i, blk in enumerate(blocks):
            a = blk.ln_1(x)
            q, k, v, scale = self._qkv(blk, cast.tokens(a) if cast else a, cast)
            if cast:
                q, k, v = q.float(), k.float(), v.float()
            inv_temp = a.norm(dim=-1).mean(dim=-1).reshape(-1, 1, 1, 1) * scale
            r = gem_attention(q, k, v, inv_temp)
            r = blk.ls_1(self._merge_heads(blk, cast.tokens(r) if cast else r, cast))
            r = r.float() if cast else r
            g = r if self.ignore_residual else g + r
            if i < len(blocks) - 1:
                x = self._blocks(x, [blk], cast)
        return g
