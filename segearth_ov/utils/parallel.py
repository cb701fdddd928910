"""Independent pieces of work (slide windows, bands of rows) run side by side on CPU threads.

Why: torch splits every op over its intra-op threads. That pays for the ViT's large GEMMs, but
SimFeatUp is hundreds of small ops per window, which scale poorly (measured: 1.3× on two
cores). Giving each worker one intra-op thread and one window keeps every core busy instead.
Workers run with the caller's grad and inference modes, autocast, and the thread-local switches
registered with `inherit` (cpu_kernels.disabled()); calls made inside a worker run sequentially,
so nesting never waits on the pool it runs in.
"""
from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

import torch

_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()
_local = threading.local()
# (capture, apply) of thread-local settings the workers take over: capture() reads the
# caller's value, apply(value) is a context manager that sets it in the worker.
_inherited: list = []
AUTOCAST_DEVICES = ('cpu', 'cuda')


def inherit(capture, apply) -> None:
    """Make `parallel_map`'s workers run with the caller's value of a thread-local setting."""
    _inherited.append((capture, apply))


def _autocast_state():
    return [(d, torch.get_autocast_dtype(d)) for d in AUTOCAST_DEVICES
            if torch.is_autocast_enabled(d)]


def _init_worker() -> None:
    _local.worker = True
    torch.set_num_threads(1)     # this thread only: OpenMP's thread count is per thread


def workers() -> int:
    """How many tasks `parallel_map` runs at once from this thread (1 inside a worker)."""
    if getattr(_local, 'worker', False):
        return 1
    return max(1, torch.get_num_threads())


def _executor(n: int) -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None or _pool._max_workers < n:
            old = _pool
            _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix='segearth-cpu',
                                       initializer=_init_worker)
            if old is not None:
                old.shutdown(wait=False)
        return _pool


def parallel_map(fn, items, device=None, max_workers: int | None = None) -> list:
    """[fn(x) for x in items], up to `workers()` at a time, results in order.

    Runs inline when there is one item or one worker, and when `device` (the device the
    work runs on) is not the CPU: a GPU already runs each op in parallel.
    """
    items = list(items)
    if device is not None and torch.device(device).type != 'cpu':
        max_workers = 1
    n = min(workers() if max_workers is None else max_workers, len(items))
    if n <= 1:
        return [fn(x) for x in items]
    grad, inference = torch.is_grad_enabled(), torch.is_inference_mode_enabled()
    autocast = _autocast_state()
    settings = [(apply, capture()) for capture, apply in _inherited]

    def task(x):
        with contextlib.ExitStack() as stack:
            stack.enter_context(torch.inference_mode(inference))
            stack.enter_context(torch.set_grad_enabled(grad))
            for device, dtype in autocast:
                stack.enter_context(torch.autocast(device, dtype=dtype))
            for apply, value in settings:
                stack.enter_context(apply(value))
            return fn(x)

    return list(_executor(n).map(task, items))
