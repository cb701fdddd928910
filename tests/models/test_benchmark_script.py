"""tools/benchmark.py runs end to end and prints the figures the README quotes."""
import os
import subprocess
import sys

import pytest

from conftest import ROOT, model_device


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
    ratio = values['image_seconds'] / values['image_floor_seconds']
    assert abs(values['image_floor_ratio'] - ratio) < 0.05      # printed values are rounded
    assert values['text_init_cached_seconds'] < values['text_init_seconds']
    assert abs(values['images_per_second'] * values['image_seconds'] - 1) < 0.05
    assert figures['device'] == 'cpu' and 'peak_cuda_mb' not in figures


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
