#!/usr/bin/env python
"""Time and peak memory of the predictor on a large synthetic GeoTIFF scene.

    python tools/benchmark_scene.py --size 10000                 # ViT-B/16 + JBU_One, random weights
    python tools/benchmark_scene.py --size 4000 --model stub     # the predictor's own I/O and blending
    python tools/benchmark_scene.py --size 10000 --write work_dirs/scene_10000.tif   # the scene only

Writes an N × N 3-band uint8 GeoTIFF (UTM, 0.5 m pixels, a no-data strip) into a
temporary folder, then runs `predict_file` on it (class map, summary, no overlay) and prints
one `key value` per line:

    scene_megapixels X        rows × N / 1e6
    tiles X                   tiles of --tile px with --overlap
    estimated_peak_mb X       what --dry-run would print for this scene
    baseline_rss_mb X         resident memory before the prediction (model and libraries)
    peak_rss_mb X             peak resident memory during the prediction
    seconds X                 wall time of the prediction
    seconds_per_megapixel X   seconds / scene_megapixels (flat when time grows linearly)
    floor_seconds X           (full) the windows' arithmetic at this run's matmul rates: the
                              ViT at its precision's rate, SimFeatUp and logits at fp32's
    floor_ratio X             (full) seconds / floor_seconds

With --model full the fp32 and bf16 matmul rates are measured first (matmul_gflops,
matmul_bf16_gflops, cpu_flags, cpu_native_bf16) and every --precision (default: fp32 and, on
a CPU with native bf16, bf16) segments each scene in the same run, its lines after
`# size N precision P`.

--model full: full-size CLIP ViT-B/16 and JBU_One with random weights (no downloads; the
arithmetic and memory of the real model); tiny: the test fixture models; stub: a per-pixel
linear classifier (`PixelwiseSegmentor`), nearly free, so what is measured is the reading,
blending and writing alone.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]

OEM_CLASSES = ['background', 'bareland,barren', 'grass', 'pavement', 'road', 'tree,forest',
               'water,river', 'cropland', 'building,roof,house']
FIXTURES = ROOT / 'tests' / 'data' / 'models'     # the tiny seeded models of the tests


class PixelwiseSegmentor:
    """A stand-in for SegEarthSegmentation whose logits are a fixed linear map of each
    pixel's normalised colour: tile-invariant by construction and nearly free to run.

    It has what the predictor uses: class_names, num_classes, data_preprocessor,
    image_logits, class_probabilities, labels, prob_thd, bg_idx and the slide settings.
    """
    clip_type, vit_type, model_type = 'stub', 'pixelwise', 'linear'
    upsampler = None
    slide_crop, slide_stride = 0, 1

    def __init__(self, classes, seed: int = 0, prob_thd: float = 0.0, bg_idx: int = 0):
        from segearth_ov.mapping.predictor import parse_classes
        self.class_names = parse_classes(classes)
        self.prob_thd, self.bg_idx = prob_thd, bg_idx
        g = torch.Generator().manual_seed(seed)
        self.weight = torch.randn(len(self.class_names.queries), 3, generator=g)
        self.query_idx = torch.tensor(self.class_names.query_idx)
        self.mean = torch.tensor([122.771, 116.746, 104.094]).view(3, 1, 1)
        self.std = torch.tensor([68.501, 66.632, 70.323]).view(3, 1, 1)
        self.device = torch.device('cpu')

    @property
    def num_classes(self) -> int:
        return len(self.class_names.classes)

    def data_preprocessor(self, data: dict, training: bool = False) -> dict:
        """BGR uint8 3×H×W tensors → normalised RGB batch, as SegDataPreProcessor does."""
        x = torch.stack([(t[[2, 1, 0]].float() - self.mean) / self.std for t in data['inputs']])
        return dict(inputs=x, data_samples=data.get('data_samples'))

    def image_logits(self, img: torch.Tensor) -> torch.Tensor:
        return torch.einsum('qc,bchw->bqhw', self.weight, img)

    def class_probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """softmax over queries, then the max over each class's synonyms."""
        probs = torch.softmax(logits, dim=0)
        out = probs.new_zeros((self.num_classes, *probs.shape[1:]))
        index = self.query_idx.view(-1, 1, 1).expand_as(probs)
        return out.scatter_reduce(0, index, probs, reduce='amax')

    def labels(self, probs: torch.Tensor) -> torch.Tensor:
        best, pred = probs.max(dim=0, keepdim=True)
        pred[best < self.prob_thd] = self.bg_idx
        return pred

    def set_classes(self, classes, prob_thd=None, bg_idx=None):
        self.__init__(classes, prob_thd=self.prob_thd if prob_thd is None else prob_thd,
                      bg_idx=self.bg_idx if bg_idx is None else bg_idx)
        return self


def write_scene(path: Path, height: int, width: int, block: int = 512, nodata_rows: int = 64,
                seed: int = 0) -> Path:
    """An uncompressed, tiled 3-band uint8 GeoTIFF (EPSG:32632, 0.5 m pixels), written in
    blocks: smooth colour fields plus noise, with nodata 0 over the top `nodata_rows` rows."""
    import rasterio
    from affine import Affine
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.002, 0.02, size=(3, 2))
    profile = dict(driver='GTiff', height=height, width=width, count=3, dtype='uint8',
                   crs='EPSG:32632', transform=Affine(0.5, 0, 500000.0, 0, -0.5, 5650000.0),
                   nodata=0, tiled=True, blockxsize=256, blockysize=256)
    with rasterio.open(path, 'w', **profile) as dst:
        for y in range(0, height, block):
            h = min(block, height - y)
            yy = np.arange(y, y + h, dtype=np.float32)[:, None]
            for x in range(0, width, block):
                w = min(block, width - x)
                xx = np.arange(x, x + w, dtype=np.float32)[None, :]
                bands = [120 + 100 * np.sin(freq[b, 0] * yy) * np.cos(freq[b, 1] * xx)
                         for b in range(3)]
                img = np.stack(bands) + rng.normal(0, 8, size=(3, h, w))
                img = np.clip(img, 1, 255).astype(np.uint8)
                img[:, :max(0, nodata_rows - y)] = 0
                dst.write(img, window=rasterio.windows.Window(x, y, w, h))
    return path


def build(model: str, device=None, precision: str = 'fp32'):
    if model == 'stub':
        return PixelwiseSegmentor(OEM_CLASSES)
    from segearth_ov.apis import init_segmentor
    if model == 'tiny':
        return init_segmentor(OEM_CLASSES, pretrained=str(FIXTURES / 'tiny_clip' / 'tiny-clip-vit-b16.pt'),
                              model_cfg=str(FIXTURES / 'tiny_clip' / 'tiny-clip-vit-b16.json'),
                              upsampler_ckpt=str(FIXTURES / 'simfeatup' / 'tiny_jbu_one.ckpt'),
                              device=device)
    torch.manual_seed(0)
    return init_segmentor(OEM_CLASSES, pretrained='random', upsampler_ckpt='random', device=device,
                          precision=precision)


def measure_scene(model, size: int, tile: int = 448, overlap: int = 128, folder=None,
                  rows: int | None = None, rates: dict | None = None, **options) -> dict:
    """Write a `rows` × size scene (default size × size), segment it with `predict_file`;
    time and peak memory; with `rates` (`floors.machine_rates`), the floor and the ratio."""
    import contextlib
    from segearth_ov.models.segmentors import floors
    rows = rows or size
    from segearth_ov.mapping import estimates, predictor, raster_io
    from segearth_ov.utils.peak_memory import peak_rss_bytes, release_free_memory, reset_peak_rss, rss_bytes
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        scene = write_scene(Path(tmp) / f'scene_{size}.tif', rows, size)
        opts = predictor.SceneOptions(tile=tile, overlap=overlap, **options)
        with raster_io.opened(scene) as src:
            plan = predictor.plan_scene(src, opts, predictor.slide_settings(model))
            weights = estimates.model_memory_bytes(model) if hasattr(model, '_embedder') else 0
            estimate = estimates.dry_run_lines(scene, src, opts, predictor.slide_settings(model),
                                               model.num_classes, len(model.class_names.queries), weights)
        release_free_memory()
        baseline = rss_bytes()
        reset_peak_rss()
        tally = floors.WindowTally(model) if rates else contextlib.nullcontext()
        with tally:
            t0 = time.perf_counter()
            predictor.predict_file(scene, model, Path(tmp) / 'out', options=opts, overlay=False,
                                   progress=False)
            seconds = time.perf_counter() - t0
        peak = peak_rss_bytes()
    est_mb = float(estimate[-1].split('~')[1].split()[0]) * 1024
    mp = rows * size / 1e6
    result = dict(scene_megapixels=mp, tiles=plan.n_tiles,
                  estimated_peak_mb=round(est_mb), baseline_rss_mb=round(baseline / 2 ** 20),
                  peak_rss_mb=round(peak / 2 ** 20), seconds=round(seconds, 2),
                  seconds_per_megapixel=round(seconds / mp, 3))
    if rates:
        floor = floors.floor_seconds(tally.flops, rates, model.precision_used)
        result.update(floor_seconds=round(floor, 2), floor_ratio=round(seconds / floor, 2))
    return result


def main(argv=None) -> int:
    from segearth_ov.utils.runtime import use_huge_pages
    use_huge_pages()          # before torch's first allocation (segearth_ov/utils/runtime.py)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--size', type=int, nargs='+', default=[10000], help='scene side(s) in pixels')
    p.add_argument('--rows', type=int, default=None,
                   help='scene height (default: --size). The predictor streams bands of rows, '
                   'so a full-width strip, e.g. --size 10000 --rows 1000, peaks as the whole '
                   'N × N scene does, in a fraction of the time')
    p.add_argument('--tile', type=int, default=448)
    p.add_argument('--overlap', type=int, default=128)
    p.add_argument('--model', choices=('full', 'tiny', 'stub'), default='full')
    p.add_argument('--device', default=None)
    p.add_argument('--threads', type=int, default=None)
    p.add_argument('--precision', nargs='+', choices=('auto', 'fp32', 'fp16', 'bf16'),
                   help="the ViT's precision(s) of --model full, each timed in this run "
                   '(default: fp32 and, on a CPU with native bf16, bf16)')
    p.add_argument('--tmp', default=None, help='folder for the synthetic scene (default: system temp)')
    p.add_argument('--write', metavar='PATH', help='only write the synthetic scene (of the '
                   'first --size) to PATH, e.g. to try tools/predict.py on it')
    args = p.parse_args(argv)
    if args.write:
        Path(args.write).parent.mkdir(parents=True, exist_ok=True)
        print(f'wrote {write_scene(Path(args.write), args.size[0], args.size[0])}')
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    import logging
    logging.getLogger('segearth_ov').setLevel(logging.WARNING)
    model = build(args.model, args.device)
    rates, precisions = None, [None]
    if args.model == 'full':
        from segearth_ov.models.segmentors import floors
        from segearth_ov.utils.precision import native_bf16
        rates = floors.machine_rates(model.device)
        print('\n'.join(floors.precision_lines(rates, model.device)), flush=True)
        precisions = args.precision or (['fp32', 'bf16'] if model.device.type == 'cpu'
                                        and native_bf16() else ['auto'])
    for size in args.size:
        for precision in precisions:
            if precision:
                model.precision = precision
            result = measure_scene(model, size, args.tile, args.overlap, args.tmp,
                                   rows=args.rows, rates=rates)
            print(f'# size {size}' + (f' precision {model.precision_used}' if precision else ''),
                  flush=True)
            for k, v in result.items():
                print(f'{k} {v}', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
