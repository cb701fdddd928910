"""Build and call the C kernels of jbu_cpu.c (SimFeatUp's per-pixel weighted sums on CPU).

The shared library is compiled once per machine with the system C compiler into
$SEGEARTH_CACHE/kernels/ (keyed by the source, the compiler flags and the CPU), and called
through ctypes on tensor memory: no torch headers, so the build takes about a second.
Without a compiler, or with SEGEARTH_KERNELS=torch, `available()` is False and callers use
their PyTorch path, which computes the same sums.
"""
from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import threading
from pathlib import Path

import torch

from ..utils.files import temp_name
from ..utils.parallel import inherit, parallel_map, workers
from ..utils.paths import cache_dir

logger = logging.getLogger('segearth_ov')
SOURCE = Path(__file__).with_name('jbu_cpu.c')
FLAGS = ['-O3', '-march=native', '-shared', '-fPIC']
_lib = None
_tried = False
_lock = threading.Lock()


def _cpu_id() -> str:
    try:
        text = Path('/proc/cpuinfo').read_text()
        flags = next((ln for ln in text.splitlines() if ln.startswith('flags')), '')
        model = next((ln for ln in text.splitlines() if ln.startswith('model name')), '')
        return model + flags
    except OSError:
        return platform.processor()


def _build() -> ctypes.CDLL | None:
    cc = os.environ.get('CC') or shutil.which('cc') or shutil.which('gcc')
    if cc is None:
        logger.info('no C compiler found: SimFeatUp uses its PyTorch path on CPU')
        return None
    key = hashlib.sha256(SOURCE.read_bytes() + ' '.join(FLAGS).encode() + _cpu_id().encode())
    out_dir = cache_dir() / 'kernels'
    lib = out_dir / f'jbu_cpu_{key.hexdigest()[:16]}.so'
    if not lib.is_file():
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp = temp_name(lib)
        res = subprocess.run([cc, *FLAGS, str(SOURCE), '-o', str(tmp)],
                             capture_output=True, text=True)
        if res.returncode != 0:
            logger.warning('could not compile %s (%s); SimFeatUp uses its PyTorch path',
                           SOURCE.name, res.stderr.strip()[:300])
            return None
        os.replace(tmp, lib)
    dll = ctypes.CDLL(str(lib))
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    dll.local_dot.argtypes = [ptr, ptr, ptr, i64, i64, i64, i64, i64, i64]
    dll.local_dot.restype = None
    dll.bicubic_up2_reflect_blocked.argtypes = [ptr, ptr, i64, i64, i64, i64, i64, i64]
    dll.bicubic_up2_reflect_blocked.restype = None
    dll.local_weighted_sum_blocked.argtypes = [ptr, ptr, ptr, i64, i64, i64, i64, i64, i64]
    dll.local_weighted_sum_blocked.restype = None
    return dll


def library():
    global _lib, _tried
    if not _tried:
        with _lock:
            if not _tried:
                if os.environ.get('SEGEARTH_KERNELS', 'auto') != 'torch':
                    try:
                        _lib = _build()
                    except Exception as err:  # never fatal: the PyTorch path is exact too
                        logger.warning('compiled kernels unavailable (%s)', err)
                _tried = True
    return _lib


_disabled = threading.local()


@contextlib.contextmanager
def disabled(on: bool = True):
    """Within this block (this thread and its `parallel_map` workers), callers take their
    PyTorch paths (`on=False`: the block leaves the switch as the caller has it)."""
    before = getattr(_disabled, 'on', False)
    _disabled.on = on or before
    try:
        yield
    finally:
        _disabled.on = before


inherit(lambda: getattr(_disabled, 'on', False), disabled)


def available(t: torch.Tensor, *others: torch.Tensor) -> bool:
    """Whether the compiled kernels can stand in: float32 CPU tensors, no gradient needed
    (they have no backward — training runs the PyTorch path), kernels not switched off."""
    if torch.is_grad_enabled() and any(x.requires_grad for x in (t, *others)):
        return False
    return (t.device.type == 'cpu' and t.dtype == torch.float32
            and not getattr(_disabled, 'on', False)
            and os.environ.get('SEGEARTH_KERNELS', 'auto') != 'torch' and library() is not None)


def _ptr(t: torch.Tensor):
    return ctypes.c_void_p(t.data_ptr())


def _run_rows(fn, args, rows: int, multiple: int = 1) -> None:
    """Call fn(*args, row0, row1) on bands of rows, one band per worker (`parallel_map`),
    band boundaries on multiples of `multiple` rows.

    ctypes releases the GIL during the call, so the bands run in parallel.
    """
    units = -(-rows // multiple)
    n = max(1, min(workers(), units))
    bounds = [min(rows, multiple * (units * t // n)) for t in range(n + 1)]
    parallel_map(lambda t: fn(*args, bounds[t], bounds[t + 1]), range(n))


def local_dot(query: torch.Tensor, padded: torch.Tensor, d: int) -> torch.Tensor:
    """out[b, a·d+c, i, j] = ⟨query[b,:,i,j], padded[b,:,i+a,j+c]⟩ (planar, B×d²×H×W).

    The kernel works on planar (NCHW) maps, 8 neighbouring pixels per vector.
    """
    b, c, h, w = query.shape
    q = query.contiguous()
    x = padded.contiguous()
    out = torch.empty(b, d * d, h, w, dtype=torch.float32)
    _run_rows(library().local_dot, (_ptr(q), _ptr(x), _ptr(out), h, w, c, d), b * h)
    return out


BLOCK = 16   # channels per block of the blocked layout (CB in jbu_cpu.c)


def upsample_and_weighted_sum(source: torch.Tensor, kernel: torch.Tensor, pad: int) -> torch.Tensor:
    """adaptive_conv(F.pad(bicubic ×2 of source, pad, reflect), kernel) in two kernels that
    pass the upsampled map in a channel-blocked layout (no NCHW/NHWC copies in between).
    NCHW-shaped in (best channels-last, as the kernels read them: other layouts are copied);
    the result is NCHW-shaped and channels-last in memory."""
    b, c, h, w = source.shape
    x = source.permute(0, 2, 3, 1).contiguous()
    nb = -(-c // BLOCK)
    hp, wp = 2 * h + 2 * pad, 2 * w + 2 * pad
    xb = torch.empty(b, nb, hp, wp, BLOCK, dtype=torch.float32)
    _run_rows(library().bicubic_up2_reflect_blocked, (_ptr(x), _ptr(xb), h, w, c, pad), b * hp)
    bk, d2, hh, ww = kernel.shape
    d = int(round(d2 ** 0.5))
    k = kernel.permute(0, 2, 3, 1).contiguous()
    out = torch.empty(b, hh, ww, c, dtype=torch.float32)
    _run_rows(library().local_weighted_sum_blocked,
              (_ptr(xb), _ptr(k), _ptr(out), hh, ww, c, d), b * hh, multiple=2)
    return out.permute(0, 3, 1, 2)
