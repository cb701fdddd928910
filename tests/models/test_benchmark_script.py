"""tools/benchmark.py runs end to end and prints the figures the README quotes."""
import os
import subprocess
import sys

from conftest import ROOT


def test_benchmark_prints_every_figure(tmp_path):
    out = subprocess.run(
        [sys.executable, str(ROOT / 'tools' / 'benchmark.py'), '--size', '224', '--runs', '1'],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, 'SEGEARTH_CACHE': str(tmp_path)})
    assert out.returncode == 0, out.stderr[-2000:]
    figures = dict(line.split(' ', 1) for line in out.stdout.splitlines() if ' ' in line)
    keys = ['matmul_gflops', 'text_init_seconds', 'image_gflop', 'image_floor_seconds',
            'image_seconds', 'image_floor_ratio', 'peak_rss_mb', 'text_init_cached_seconds']
    values = {k: float(figures[k]) for k in keys}
    # one 224² window of ViT-B/16 + JBU_One: ~35 GFLOP of ViT plus ~3.5 of upsampling
    assert 30 < values['image_gflop'] < 50
    ratio = values['image_seconds'] / values['image_floor_seconds']
    assert abs(values['image_floor_ratio'] - ratio) < 0.05      # printed values are rounded
    assert values['text_init_cached_seconds'] < values['text_init_seconds']
