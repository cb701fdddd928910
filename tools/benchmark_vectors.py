#!/usr/bin/env python
"""Time and peak memory of tracing class polygons (segearth_ov/mapping/vectors.py) on a large
synthetic class map.

    python tools/benchmark_vectors.py --size 10000                  # blocks of 1024 rows
    python tools/benchmark_vectors.py --size 10000 --block-rows 256 512 1024
    python tools/benchmark_vectors.py --size 10000 --simplify 1.5       # --vector-simplify

Writes an N × N uint8 class GeoTIFF (4 classes from smooth random fields plus small specks,
nodata 255 over the top rows, UTM 0.5 m; the predictor's ClassMapWriter, so a COG) into a
temporary folder, then runs `vectorize` on it once per --block-rows (with --simplify, the
tolerance in pixels) and prints one `key value` per line: polygons, vertices,
baseline_rss_mb (before), peak_rss_mb, seconds.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NAMES = ['background', 'building', 'road', 'water']


def write_class_map(path: Path, size: int, rows: int = 512, seed: int = 0) -> Path:
    from affine import Affine

    from segearth_ov.mapping.raster_io import ClassMapWriter
    from segearth_ov.visualization import class_colours
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.003, 0.03, size=(2, 2))
    xx = np.arange(size, dtype=np.float32)[None, :]
    with ClassMapWriter(path, NAMES, class_colours([[n] for n in NAMES]), size, size,
                        'EPSG:32632', Affine(0.5, 0, 500000.0, 0, -0.5, 5650000.0)) as w:
        for y in range(0, size, rows):
            yy = np.arange(y, min(size, y + rows), dtype=np.float32)[:, None]
            f = np.sin(freq[0, 0] * yy) * np.cos(freq[0, 1] * xx) + \
                0.5 * np.sin(freq[1, 0] * yy + freq[1, 1] * xx)
            labels = np.digitize(f, [-0.5, 0.3, 0.9]).astype(np.uint8)
            labels[rng.random(labels.shape) < 2e-4] = 2          # specks
            labels[:max(0, 64 - y)] = 255
            w.write(y, labels)
    return path


def measure(labels: Path, block_rows: int, simplify: float = 0.0) -> dict:
    from segearth_ov.mapping.vectors import VectorOptions, vectorize
    from segearth_ov.utils.peak_memory import peak_rss_bytes, release_free_memory, reset_peak_rss, rss_bytes
    import pyogrio
    out = labels.with_name(f'polygons_{block_rows}.gpkg')
    release_free_memory()
    baseline = rss_bytes()
    reset_peak_rss()
    t0 = time.perf_counter()
    vectorize(labels, out, options=VectorOptions(block_rows=block_rows, simplify=simplify))
    seconds = time.perf_counter() - t0
    peak = peak_rss_bytes()
    return dict(block_rows=block_rows, simplify=simplify,
                polygons=pyogrio.read_info(out)['features'], vertices=vertex_count(out),
                baseline_rss_mb=round(baseline / 2 ** 20), peak_rss_mb=round(peak / 2 ** 20),
                seconds=round(seconds, 1))


def vertex_count(path: Path) -> int:
    """Vertices of all polygons in the layer (read after the measurement)."""
    import shapely
    from pyogrio.raw import read
    geoms = read(str(path), columns=[])[2]
    return int(shapely.get_num_coordinates(shapely.from_wkb(geoms)).sum())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--size', type=int, default=10000)
    p.add_argument('--block-rows', type=int, nargs='+', default=[1024])
    p.add_argument('--simplify', type=float, default=0.0, metavar='PX',
                   help='--vector-simplify tolerance in pixels (default 0: exact edges)')
    p.add_argument('--tmp', default=None, help='folder for the synthetic class map')
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        labels = write_class_map(Path(tmp) / 'scene_labels.tif', args.size)
        for n in args.block_rows:
            print(f'# size {args.size}', flush=True)
            for k, v in measure(labels, n, args.simplify).items():
                print(f'{k} {v}', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
