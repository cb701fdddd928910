"""The ViT's precision: what the processor runs natively, and what 'auto' means where.

bf16 pays on a CPU only with native bf16 arithmetic (AVX512-BF16, AMX): there torch's bf16
matmul runs at about twice the float32 rate; without it autocast only converts, and bf16 is
several times slower than float32 (docs/speed.md). The segmentor's own 'auto' is fp16 on CUDA
and float32 on CPU, which is what eval.py, eval_all.py and the paper tables use (they reproduce
the papers). The mapping tools (tools/predict.py, the web page, region runs, Python `predict`)
resolve 'auto' with `mapping_precision`: bf16 on a CPU with native bf16 (docs/speed.md
§ Precision gives the measurements behind this choice).
"""
from __future__ import annotations

import torch

PRECISIONS = ('auto', 'fp32', 'fp16', 'bf16')
NAMES = {torch.float32: 'fp32', torch.bfloat16: 'bf16', torch.float16: 'fp16'}
HELP = ("the ViT's precision: auto (default: fp16 on CUDA; on a CPU bf16 when it has native "
        'bf16 (AVX512-BF16/AMX), else fp32), fp32, bf16 or fp16. SimFeatUp and the class step '
        'run in float32 always; the precision used is recorded in the outputs')


def native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX), as torch detects it."""
    cpu = getattr(torch, 'cpu', None)
    for name in ('_is_avx512_bf16_supported', '_is_amx_tile_supported'):
        check = getattr(cpu, name, None)
        if check is not None and check():
            return True
    return False


def mapping_precision(precision: str | None, device=None) -> str:
    """The precision the mapping tools build with: 'auto' (or None) becomes 'bf16' on a CPU
    with native bf16; anything else is kept ('auto' then means fp16 on CUDA, fp32 on CPU)."""
    if precision not in (None, 'auto'):
        return precision
    dev = torch.device(device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    return 'bf16' if dev.type == 'cpu' and native_bf16() else 'auto'
