"""parallel_map: results in order, the caller's grad mode in the workers, no nested pools."""
import threading

import torch

from segearth_ov.utils.parallel import parallel_map, workers


def test_results_in_order_on_the_workers(monkeypatch):
    monkeypatch.setattr(torch, 'get_num_threads', lambda: 2)
    caller = threading.current_thread()
    where = {}

    def fn(i):
        where[i] = threading.current_thread() is caller
        return i * i

    assert parallel_map(fn, range(5)) == [0, 1, 4, 9, 16]
    assert not any(where.values())


def test_workers_see_the_callers_grad_mode_and_do_not_nest(monkeypatch):
    monkeypatch.setattr(torch, 'get_num_threads', lambda: 2)

    def fn(_):
        return torch.is_grad_enabled(), workers(), parallel_map(lambda x: x + 1, [1, 2])

    with torch.no_grad():
        out = parallel_map(fn, range(2))
    assert out == [(False, 1, [2, 3])] * 2
    assert parallel_map(lambda _: torch.is_grad_enabled(), range(2)) == [True, True]


def test_one_worker_or_a_gpu_runs_inline(monkeypatch):
    monkeypatch.setattr(torch, 'get_num_threads', lambda: 2)
    caller = threading.current_thread()
    assert parallel_map(lambda _: threading.current_thread() is caller, range(3),
                        max_workers=1) == [True] * 3
    assert parallel_map(lambda _: threading.current_thread() is caller, range(3),
                        'cuda') == [True] * 3


def test_workers_inherit_the_kernel_switch_and_autocast(monkeypatch):
    """fast=False promises plain PyTorch: cpu_kernels.disabled() and autocast are thread-local,
    so parallel_map hands them to its workers (and takes them back after each task)."""
    from segearth_ov.ops import cpu_kernels
    monkeypatch.setattr(torch, 'get_num_threads', lambda: 2)
    caller = threading.current_thread()

    def fn(_):
        x = torch.ones(4, 4)
        return (threading.current_thread() is caller, cpu_kernels.available(x),
                (x @ x).dtype)

    if not cpu_kernels.available(torch.ones(1)):
        import pytest
        pytest.skip('no C compiler: the compiled kernels are off anyway')
    with cpu_kernels.disabled(), torch.autocast('cpu', dtype=torch.bfloat16):
        assert parallel_map(fn, range(4)) == [(False, False, torch.bfloat16)] * 4
    assert parallel_map(fn, range(4)) == [(False, True, torch.float32)] * 4


def test_banded_jbu_kernel_stays_in_pytorch_when_kernels_are_disabled(monkeypatch):
    """The row bands of a JBU kernel run on the workers: with the kernels disabled none of
    them may call the compiled dot products."""
    from segearth_ov.models.upsamplers import jbu
    from segearth_ov.ops import cpu_kernels
    monkeypatch.setattr(torch, 'get_num_threads', lambda: 2)
    monkeypatch.setattr(jbu, 'KERNEL_BAND_PIXELS', 64)
    calls = []
    real = cpu_kernels.local_dot
    monkeypatch.setattr(cpu_kernels, 'local_dot', lambda *a: calls.append(1) or real(*a))
    step = jbu.JBULearnedRange(3, 8, 2).eval()
    guide = torch.randn(1, 3, 20, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        with cpu_kernels.disabled():
            plain = step.kernel(guide)
        assert not calls
        fast = step.kernel(guide)
    assert calls or not cpu_kernels.available(guide)
    torch.testing.assert_close(plain, fast, rtol=1e-5, atol=1e-6)
