#!/usr/bin/env python
"""Speed and memory of the SegEarth-OV inference path at full model size, no weights needed.

Builds the segmentor with a randomly initialised, full-size CLIP ViT-B/16 (QuickGELU) and
JBU_One (C = 512) and the OpenEarthMap class list (14 queries × 80 templates), and
segments random images. Prints one `key value` per line:

    device X                   where it runs (cpu, or cuda and the GPU's name)
    matmul_gflops X            this machine's fp32 2048² matmul rate (the yardstick)
    matmul_bf16_gflops X       (CPU) its bf16 rate, measured in the same run
    cpu_flags X                (CPU) avx2, avx512f, avx512_bf16, amx_… as Linux lists them
    cpu_native_bf16 yes|no     (CPU) whether bf16 is native; without it bf16 is not timed by
                               default and not offered as faster (a `note` line says so)
    matmul_fp16_gflops X       (CUDA only) the GPU's fp16 2048² matmul rate (the ViT's autocast)
    text_init_seconds X        text embeddings, no cache
    image_gflop X              arithmetic of one --size image (ViT + SimFeatUp + logits)
    image_vit_gflop X          the ViT's part of it
    image_precision X          the ViT's precision of the figures below (fp32, bf16, fp16)
    image_floor_seconds X      the ViT's arithmetic at its precision's matmul rate plus the rest
                               (SimFeatUp, logits: float32 on every path) at the fp32 rate
    image_seconds X            median over --runs, slide 224/112
    image_floor_ratio X        image_seconds / image_floor_seconds
    image_all_low_floor_ratio X  (bf16/fp16) against all arithmetic at the low rate
    images_per_second X        1 / image_seconds (--size² images, one at a time)
    peak_rss_mb X              peak resident memory of the process up to here
  each further --precision repeats the image_… lines prefixed, e.g. bf16_image_seconds X.
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
import tempfile
import time
from pathlib import Path


OEM_CLASSES = ['background', 'bareland,barren', 'grass', 'pavement', 'road', 'tree,forest',
               'water,river', 'cropland', 'building,roof,house']


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
    from segearth_ov.utils.precision import PRECISIONS
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--size', type=int, default=448)
    p.add_argument('--runs', type=int, default=3)
    p.add_argument('--device', default=None)
    p.add_argument('--model-type', default='SegEarth')
    p.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: all)')
    p.add_argument('--sweep', action='store_true', help='sizes 224/448/896, slide and whole, batch')
    p.add_argument('--batch', type=int, default=4, help='images per batch for --sweep')
    p.add_argument('--compare-naive', action='store_true')
    p.add_argument('--precision', nargs='+', choices=PRECISIONS, default=None,
                   help="the ViT's precision(s), each timed in this run (default: on CPU fp32 "
                   "and, with native bf16, bf16; on CUDA auto = fp16 autocast). The first "
                   "gives the unprefixed figures, the others <precision>_image_… lines")
    args = p.parse_args(argv)

    import torch
    from segearth_ov.apis import init_segmentor
    from segearth_ov.models.segmentors import floors
    from segearth_ov.utils.precision import native_bf16
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    build = dict(clip_type='CLIP', vit_type='ViT-B/16', model_type=args.model_type,
                 upsampler='jbu_one', upsampler_ckpt='random', device=args.device,
                 precision=(args.precision or ['auto'])[0])
    model = init_segmentor(OEM_CLASSES, pretrained='random', **build)
    dev = model.device
    precisions = args.precision or (['fp32', 'bf16'] if dev.type == 'cpu' and native_bf16()
                                    else ['auto'])
    rates = floors.machine_rates(dev)
    print(f'device {dev.type}' + (f' {torch.cuda.get_device_name(dev)}' if dev.type == 'cuda'
                                   else ''))
    print('\n'.join(floors.precision_lines(rates, dev)))
    print(f'text_init_seconds {model.text_seconds:.2f}', flush=True)

    s = args.size
    flop = floors.image_flops(model, s, s)
    print(f'image_gflop {sum(flop) / 1e9:.1f}')
    print(f'image_vit_gflop {flop[0] / 1e9:.1f}')
    img = torch.randn(1, 3, s, s, device=dev)
    for i, precision in enumerate(precisions):
        model.precision = precision
        key = '' if i == 0 else f'{precision}_'
        floor = floors.floor_seconds(flop, rates, model.precision_used)
        print(f'{key}image_precision {model.precision_used}')
        print(f'{key}image_floor_seconds {floor:.3g}')
        model.predict(img)   # warm-up: kernel build, allocator, low-precision weights
        seconds = time_predict(model, img, args.runs)
        fast = fast if i else seconds      # the first precision's, for --compare-naive
        print(f'{key}image_seconds {seconds:.3g}')
        print(f'{key}image_floor_ratio {seconds / floor:.2f}')
        if model.precision_used != 'fp32':
            low = floors.floor_seconds(flop, rates, model.precision_used, all_low=True)
            print(f'{key}image_all_low_floor_ratio {seconds / low:.2f}')
        print(f'{key}images_per_second {1 / seconds:.3g}')
        print(f'{key}peak_rss_mb {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}',
              flush=True)
    model.precision = precisions[0]
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
