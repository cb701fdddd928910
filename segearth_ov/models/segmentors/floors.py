"""The arithmetic floor of a prediction: its multiply-adds at this machine's matmul rates.

The benchmarks (tools/benchmark.py, tools/benchmark_scene.py) measure the matmul rates in the
same run as the prediction (a busy or throttled machine moves both) and print each path's
floor and the ratio of its time to it. A precision's floor counts the ViT's arithmetic at that
precision's matmul rate and SimFeatUp's and the logits' at the float32 rate, since those run in
float32 on every path (`SegEarthSegmentation`); `all_low` counts everything at the low rate
(the bound if SimFeatUp ran in bf16 too).
"""
from __future__ import annotations

import time

import torch

from ...utils.precision import native_bf16


def matmul_gflops(device, dtype=None, n: int = 2048, repeats: int = 5) -> float:
    """Best-of-`repeats` rate of one n×n matmul in `dtype` on `device`, GFLOP/s."""
    from ...utils.devices import synchronize      # waits for `device` itself (cuda:1 too)
    device = torch.device(device)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    best = float('inf')
    for _ in range(repeats):
        synchronize(device)
        t0 = time.perf_counter()
        a @ b
        synchronize(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def machine_rates(device) -> dict:
    """{'fp32': GFLOP/s, 'bf16' or 'fp16': GFLOP/s}: on CPU bf16 (measured even without
    native bf16, to show what it costs), on CUDA fp16 (the default autocast)."""
    device = torch.device(device)
    low = torch.float16 if device.type == 'cuda' else torch.bfloat16
    return {'fp32': matmul_gflops(device), {torch.float16: 'fp16', torch.bfloat16: 'bf16'}[low]:
            matmul_gflops(device, low)}


def cpu_flags() -> str:
    """The CPU's vector and matrix extensions that matter here, as Linux lists them."""
    wanted = ('avx2', 'avx512f', 'avx512_bf16', 'avx512_fp16', 'amx_bf16', 'amx_tile')
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            flags = next((line.split(':', 1)[1].split() for line in f
                          if line.startswith('flags')), [])
    except OSError:
        flags = []
    return ','.join(f for f in wanted if f in flags) or 'unknown'


def window_flops(model, hh: int, ww: int) -> tuple[float, float]:
    """(ViT, SimFeatUp + logits) multiply-adds ×2 of one hh × ww window (patch multiples),
    counted analytically; the guidance kernels as if computed per window."""
    p = model.patch_size
    enc = model.image_encoder
    d = enc.visual.conv1.out_channels
    layers = len(enc.visual.transformer.resblocks)
    c = enc.embed_dim
    q = model.query_features.shape[0]
    n = (hh // p) * (ww // p) + 1
    vit = 2 * (n - 1) * 3 * p * p * d                             # patch embedding
    vit += layers * (2 * n * d * d * 12 + 4 * n * n * d)           # blocks
    vit += 2 * n * d * c                                          # projection
    rest = 0.0
    r = min(c, n)
    if model.upsampler is not None:
        hw = (hh // p) * (ww // p)
        for _ in range(model.upsampler.num_steps):
            hw *= 4
            rest += 2 * hw * (3 * 32 + 32 * 32)                   # range projection
            rest += 2 * hw * 121 * 32                             # neighbour dot products
            rest += 2 * hw * (124 * 121 + 121 * 121)              # kernel fixup
            rest += 2 * hw * 16 * r + 2 * hw * 121 * r            # bicubic ×2, weighted sum
        rest += 2 * hh * ww * q * r                               # logits
    else:
        rest += 2 * (n - 1) * q * c
    return vit, rest


def image_flops(model, h: int, w: int) -> tuple[float, float]:
    """(ViT, rest) arithmetic of one h × w image with the model's slide windows."""
    from .windows import slide_windows
    p = model.patch_size
    wins = (list(slide_windows(h, w, model.slide_crop, model.slide_stride))
            if model.slide_crop > 0 else [(0, h, 0, w)])
    vit = rest = 0.0
    for y1, y2, x1, x2 in wins:
        v, r = window_flops(model, -(-(y2 - y1) // p) * p, -(-(x2 - x1) // p) * p)
        vit, rest = vit + v, rest + r
    return vit, rest


def floor_seconds(flops: tuple[float, float], rates: dict, precision: str,
                  all_low: bool = False) -> float:
    """Seconds of (ViT, rest) arithmetic on the path of `precision` (module docstring)."""
    vit, rest = flops
    low = rates.get(precision, rates['fp32'])
    return (vit / low + rest / (low if all_low else rates['fp32'])) / 1e9


class WindowTally:
    """Counts the windows a model's `window_logits` runs (and their arithmetic) while on:
    the scene benchmark's floor is that of the windows the predictor actually ran."""

    def __init__(self, model):
        self.model, self.flops = model, (0.0, 0.0)

    def __enter__(self):
        model, inner = self.model, self.model.window_logits

        def counted(crops, *args, **kwargs):
            v, r = window_flops(model, *crops.shape[-2:])
            self.flops = (self.flops[0] + v * crops.shape[0], self.flops[1] + r * crops.shape[0])
            return inner(crops, *args, **kwargs)

        model.window_logits = counted
        return self

    def __exit__(self, *exc):
        del self.model.window_logits       # the class's method again


def precision_lines(rates: dict, device) -> list[str]:
    """`key value` lines: the matmul rates, the CPU flags and whether bf16 is native."""
    lines = [f"matmul_gflops {rates['fp32']:.0f}"]
    for name in ('bf16', 'fp16'):
        if name in rates:
            lines.append(f'matmul_{name}_gflops {rates[name]:.0f}')
    if torch.device(device).type == 'cpu':
        native = native_bf16()
        lines.append(f'cpu_flags {cpu_flags()}')
        lines.append(f"cpu_native_bf16 {'yes' if native else 'no'}")
        if not native:
            lines.append('note bf16 is not offered as faster here: this CPU has no native '
                         'bf16 (autocast only converts)')
    return lines
