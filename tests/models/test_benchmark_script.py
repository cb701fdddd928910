"""tools/benchmark.py runs end to end and prints the figures the README quotes."""
import os
import subprocess
import sys
from decimal import Decimal

import pytest
import torch

from conftest import ROOT, load_script, model_device


def printed_range(text):
    """The interval a printed, rounded figure stands for: '0.0224' is 0.0224 ± 0.00005."""
    value = Decimal(text)
    half = Decimal(1).scaleb(value.as_tuple().exponent) / 2
    return float(value - half), float(value + half)


def test_benchmark_prints_every_figure(tmp_path):
    out = subprocess.run(
        [sys.executable, str(ROOT / 'tools' / 'benchmark.py'), '--size', '224', '--runs', '1',
         '--device', 'cpu'],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, 'SEGEARTH_CACHE': str(tmp_path)})
    assert out.returncode == 0, out.stderr[-2000:]
    figures = dict(line.split(' ', 1) for line in out.stdout.splitlines() if ' ' in line)
    keys = ['matmul_gflops', 'text_init_seconds', 'image_gflop', 'image_floor_seconds',
            'image_seconds', 'image_floor_ratio', 'images_per_second', 'peak_rss_mb',
            'text_init_cached_seconds']
    values = {k: float(figures[k]) for k in keys}
    # one 224² window of ViT-B/16 + JBU_One: ~35 GFLOP of ViT plus ~3.5 of upsampling
    assert 30 < values['image_gflop'] < 50
    # every printed figure is rounded: check the relations over the intervals they stand for
    (s_lo, s_hi), (f_lo, f_hi), (r_lo, r_hi), (p_lo, p_hi) = (
        printed_range(figures[k]) for k in ('image_seconds', 'image_floor_seconds',
                                            'image_floor_ratio', 'images_per_second'))
    assert r_lo <= s_hi / f_lo and s_lo / f_hi <= r_hi
    assert p_lo * s_lo <= 1 <= p_hi * s_hi
    assert values['text_init_cached_seconds'] < values['text_init_seconds']
    assert figures['device'] == 'cpu' and 'peak_cuda_mb' not in figures
    # the bf16 rate is measured in the same run; bf16 is timed only where it is native
    assert float(figures['matmul_bf16_gflops']) > 0 and figures['image_precision'] == 'fp32'
    from segearth_ov.utils.precision import native_bf16
    assert figures['cpu_native_bf16'] == ('yes' if native_bf16() else 'no')
    if native_bf16():
        assert figures['bf16_image_precision'] == 'bf16'
        seconds, floor = float(figures['bf16_image_seconds']), float(figures['bf16_image_floor_seconds'])
        assert float(figures['bf16_image_floor_ratio']) == pytest.approx(seconds / floor, rel=0.02)
    else:
        assert 'bf16_image_seconds' not in figures and 'no native bf16' in figures['note']


def test_timings_and_peak_memory_are_those_of_the_gpu_benchmarked(monkeypatch):
    """Issue 29 item 2: with `--device cuda:1`, `torch.cuda.synchronize()` waited for cuda:0
    (the timings did not wait for GPU 1) and `max_memory_allocated()` read cuda:0's peak.
    FakeTensorMode runs the matmul timing on 'cuda:1'; the GPU calls are recorded."""
    from fake_cuda import fake_cuda

    from segearth_ov.models.segmentors import floors      # tools/benchmark.py's matmul rates
    from segearth_ov.utils.devices import peak_cuda_mb
    waited = []
    monkeypatch.setattr(torch.cuda, 'synchronize', lambda device=None: waited.append(device))
    monkeypatch.setattr(torch.cuda, 'max_memory_allocated',
                        lambda device=None: {torch.device('cuda', 1): 3 * 2 ** 20}.get(device, 0))
    with fake_cuda():
        floors.matmul_gflops(torch.device('cuda', 1))
    assert len(waited) == 10 and set(waited) == {torch.device('cuda', 1)}
    assert peak_cuda_mb('cuda:1') == 3.0


@pytest.mark.gpu
def test_benchmark_on_cuda_prints_the_gpu_figures(tmp_path):
    out = subprocess.run(
        [sys.executable, str(ROOT / 'tools' / 'benchmark.py'), '--size', '448', '--runs', '3',
         '--device', model_device()],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, 'SEGEARTH_CACHE': str(tmp_path)})
    assert out.returncode == 0, out.stderr[-2000:]
    print(out.stdout)
    figures = dict(line.split(' ', 1) for line in out.stdout.splitlines() if ' ' in line)
    assert figures['device'].startswith('cuda ')
    for key in ('matmul_gflops', 'matmul_fp16_gflops', 'images_per_second', 'peak_cuda_mb'):
        assert float(figures[key]) > 0


def test_scene_floor_counts_the_windows_the_model_ran():
    """The scene benchmark's floor is the arithmetic of the windows actually run: a 448² image
    with slide 224/112 is 9 windows, as `image_flops` counts them analytically."""
    import torch

    from conftest import tiny_segmentor
    from segearth_ov.models.segmentors import floors
    model = tiny_segmentor(['a', 'b'], device='cpu')
    with floors.WindowTally(model) as tally, torch.no_grad():
        model.image_logits(torch.randn(1, 3, 448, 448))
    assert 'window_logits' not in vars(model)          # the method is the class's again
    one = floors.window_flops(model, 224, 224)
    assert tally.flops == pytest.approx((9 * one[0], 9 * one[1]))
    assert tally.flops == pytest.approx(floors.image_flops(model, 448, 448))
    rates = {'fp32': 100.0, 'bf16': 200.0}
    vit, rest = tally.flops
    assert floors.floor_seconds(tally.flops, rates, 'bf16') == pytest.approx(
        (vit / 200 + rest / 100) / 1e9)
