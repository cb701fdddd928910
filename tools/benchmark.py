#!/usr/bin/env python
"""Speed and memory of the SegEarth-OV inference path at full model size, no weights needed.

Builds the segmentor with a randomly initialised, full-size CLIP ViT-B/16 (QuickGELU) and
JBU_One (C = 512), the OpenEarthMap class list (14 queries × 80 templates), and segments a
random size×size image by slide inference. Prints one figure per line:
    text_init_seconds X   (text embeddings, no cache)
    image_seconds X       (median over --runs)
    peak_rss_mb X
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

OEM_CLASSES = ['background', 'bareland,barren', 'grass', 'pavement', 'road', 'tree,forest',
               'water,river', 'cropland', 'building,roof,house']


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--size', type=int, default=448)
    p.add_argument('--runs', type=int, default=3)
    p.add_argument('--device', default=None)
    p.add_argument('--model-type', default='SegEarth')
    p.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: all)')
    args = p.parse_args(argv)

    import torch
    from segearth_ov.apis import init_segmentor
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = init_segmentor(OEM_CLASSES, clip_type='CLIP', vit_type='ViT-B/16',
                           model_type=args.model_type, pretrained='random',
                           upsampler='jbu_one', upsampler_ckpt='random', device=args.device)
    print(f'text_init_seconds {model.text_seconds:.2f}', flush=True)

    img = torch.randn(1, 3, args.size, args.size, device=model.device_)
    times = []
    for _ in range(args.runs):
        if model.device_.type == 'cuda':
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        model.predict(img)
        if model.device_.type == 'cuda':
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    print(f'image_seconds {statistics.median(times):.2f}')
    print(f'peak_rss_mb {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}')
    if model.device_.type == 'cuda':
        print(f'peak_cuda_mb {torch.cuda.max_memory_allocated() / 2**20:.0f}')


if __name__ == '__main__':
    main()
