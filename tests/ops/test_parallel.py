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
