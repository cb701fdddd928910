#!/usr/bin/env python
"""Speed and memory of the SegEarth-OV inference path at full model size, no weights needed.

Builds the segmentor with a randomly initialised, full-size CLIP ViT-B/16 (QuickGELU) and
JBU_One (C = 512) and the OpenEarthMap class list (14 queries × 80 templates), and
segments random images. Prints one `key value` per line:

    device X                   where it runs (cpu, or cuda and the GPU's name)
    matmul_gflops X            this machine's fp32 2048² matmul rate (the yardstick)
    matmul_fp16_gflops X       (CUDA only) the GPU's fp16 2048² matmul rate (the ViT's autocast)
    text_init_seconds X        text embeddings, no cache
    image_gflop X              arithmetic of one --size image (ViT + SimFeatUp + logits)
    image_floor_seconds X      image_gflop / matmul_gflops
    image_seconds X            median over --runs, slide 224/112
    image_floor_ratio X        image_seconds / image_floor_seconds
    images_per_second X        1 / image_seconds (--size² images, one at a time)
    peak_rss_mb X              peak resident memory of the process up to here
    peak_cuda_mb X             (CUDA only) torch.cuda.max_memory_allocated up to here
    text_init_cached_seconds X text embeddings from the disk cache
  with --sweep:    image_seconds_<slide|whole>_<size> for 224, 448, 896; batch_images_per_second
  with --compare-naive: naive_image_seconds X, speedup X (fast=False: one window at a time,
                   SimFeatUp on all channels in plain PyTorch), in the same process.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

OEM_CLASSES = ['background', 'bareland,barren', 'grass', 'pavement', 'road', 'tree,forest',
               'water,river', 'cropland', 'building,roof,house']


def matmul_gflops(device, dtype=None) -> float:
    import torch

    from segearth_ov.utils.devices import synchronize   # waits for `device` itself
    a = torch.randn(2048, 2048, device=device, dtype=dtype)
    b = torch.randn(2048, 2048, device=device, dtype=dtype)
    a @ b
    best = float('inf')
    for _ in range(5):
        synchronize(device)
        t0 = time.perf_counter()
        a @ b
        synchronize(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * 2048 ** 3 / best / 1e9


def image_flops(model, h: int, w: int) -> float:
    """Multiply-adds ×2 of one image: ViT windows, SimFeatUp, logits (analytic count)."""
    from segearth_ov.models.segmentors.segearth import slide_windows
    enc = model.image_encoder
    d = enc.visual.conv1.out_channels
    layers = len(enc.visual.transformer.resblocks)
    c = enc.embed_dim
    p = model.patch_size
    q = model.query_features.shape[0]
    wins = (list(slide_windows(h, w, model.slide_crop, model.slide_stride))
            if model.slide_crop > 0 else [(0, h, 0, w)])
    total = 0.0
    for y1, y2, x1, x2 in wins:
        hh, ww = -(-(y2 - y1) // p) * p, -(-(x2 - x1) // p) * p
        n = (hh // p) * (ww // p) + 1
        total += 2 * (n - 1) * 3 * p * p * d                       # patch embedding
        total += layers * (2 * n * d * d * 12 + 4 * n * n * d)      # blocks
        total += 2 * n * d * c                                      # projection
        r = min(c, n)
        if model.upsampler is not None:
            hw = (hh // p) * (ww // p)
            for _ in range(model.upsampler.num_steps):
                hw *= 4
                total += 2 * hw * (3 * 32 + 32 * 32)                # range projection
                total += 2 * hw * 121 * 32                          # neighbour dot products
                total += 2 * hw * (124 * 121 + 121 * 121)           # kernel fixup
                total += 2 * hw * 16 * r + 2 * hw * 121 * r         # bicubic ×2, weighted sum
            total += 2 * hh * ww * q * r                            # logits
        else:
            total += 2 * (n - 1) * q * c
    return total


def time_predict(model, imgs, runs: int) -> float:
    from segearth_ov.utils.devices import synchronize
    times = []
    for _ in range(runs):
        synchronize(model.device)
        t0 = time.perf_counter()
        model.predict(imgs)
        synchronize(model.device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None):
    from segearth_ov.utils.runtime import use_huge_pages
    use_huge_pages()          # before torch's first allocation (segearth_ov/utils/runtime.py)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--size', type=int, default=448)
    p.add_argument('--runs', type=int, default=3)
    p.add_argument('--device', default=None)
    p.add_argument('--model-type', default='SegEarth')
    p.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: all)')
    p.add_argument('--sweep', action='store_true', help='sizes 224/448/896, slide and whole, batch')
    p.add_argument('--batch', type=int, default=4, help='images per batch for --sweep')
    p.add_argument('--compare-naive', action='store_true')
    p.add_argument('--precision', default='auto', choices=['auto', 'fp32', 'fp16', 'bf16'],
                   help="the ViT's precision (autocast); 'auto': fp16 on CUDA, fp32 on CPU")
    args = p.parse_args(argv)

    import torch
    from segearth_ov.apis import init_segmentor
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    build = dict(clip_type='CLIP', vit_type='ViT-B/16', model_type=args.model_type,
                 upsampler='jbu_one', upsampler_ckpt='random', device=args.device,
                 precision=args.precision)
    model = init_segmentor(OEM_CLASSES, pretrained='random', **build)
    dev = model.device
    gflops = matmul_gflops(dev)
    print(f'device {dev.type}' + (f' {torch.cuda.get_device_name(dev)}' if dev.type == 'cuda'
                                   else ''))
    print(f'matmul_gflops {gflops:.0f}')
    if dev.type == 'cuda':
        print(f'matmul_fp16_gflops {matmul_gflops(dev, torch.float16):.0f}')
    print(f'text_init_seconds {model.text_seconds:.2f}', flush=True)

    s = args.size
    flop = image_flops(model, s, s)
    print(f'image_gflop {flop / 1e9:.1f}')
    print(f'image_floor_seconds {flop / 1e9 / gflops:.3g}')
    img = torch.randn(1, 3, s, s, device=dev)
    model.predict(img)   # warm-up: kernel build, allocator
    fast = time_predict(model, img, args.runs)
    print(f'image_seconds {fast:.3g}')
    print(f'image_floor_ratio {fast / (flop / 1e9 / gflops):.2f}')
    print(f'images_per_second {1 / fast:.3g}')
    print(f'peak_rss_mb {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}', flush=True)
    if dev.type == 'cuda':
        from segearth_ov.utils.devices import peak_cuda_mb
        print(f'peak_cuda_mb {peak_cuda_mb(dev):.0f}')

    with tempfile.TemporaryDirectory() as tmp:   # a weights file, so the cache can be keyed
        import os
        import open_clip
        os.environ['SEGEARTH_CACHE'] = tmp           # keep the user's cache clean
        weights = Path(tmp) / 'vit-b-16-random.pt'
        clip = open_clip.create_model('ViT-B-16', force_quick_gelu=True)
        torch.save(clip.state_dict(), weights)
        init_segmentor(OEM_CLASSES, pretrained=str(weights), **build)
        cached = init_segmentor(OEM_CLASSES, pretrained=str(weights), **build)
        assert cached.text_from_cache
        print(f'text_init_cached_seconds {cached.text_seconds:.3f}', flush=True)
        del clip, cached

    if args.sweep:
        for mode, crop in (('slide', 224), ('whole', 0)):
            model.slide_crop = crop
            for size in (224, 448, 896):
                x = torch.randn(1, 3, size, size, device=dev)
                print(f'image_seconds_{mode}_{size} {time_predict(model, x, 1):.2f}', flush=True)
        model.slide_crop = 224
        batch = torch.randn(args.batch, 3, s, s, device=dev)
        print(f'batch_images_per_second {args.batch / time_predict(model, batch, 1):.2f}')

    if args.compare_naive:
        model.fast = False
        naive = time_predict(model, img, 1)
        print(f'naive_image_seconds {naive:.2f}')
        print(f'speedup {naive / fast:.1f}')


if __name__ == '__main__':
    main()
