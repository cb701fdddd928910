#!/usr/bin/env python
"""HG-RSOVSSeg speed and memory on CPU: full-size, randomly initialised backbones.

    python tools/benchmark_hg.py [--backbones ViT-L/14 ViT-B/16] [--size 512] [--classes 10]
                                 [--iters 3] [--threads N]

For each backbone (in a fresh process, so peak memory is its own): training seconds per
iteration at batch 1 (forward, backward, AdamW step on the decoder; frozen encoder without
autograd), inference seconds per image (whole-image mode), and the process's peak RSS.
Prints figures; asserts nothing (speed goals live here, not in tests).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

CLASSES = ['building', 'road', 'tree', 'water', 'grass', 'cropland', 'bare soil', 'car',
           'ship', 'parking lot', 'forest', 'river', 'meadow', 'roof', 'sand', 'snow']


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2   # KiB → GiB


def measure(vit_type: str, size: int, n_classes: int, iters: int) -> dict:
    import torch
    import segearth_ov  # noqa: F401
    from mmseg.registry import MODELS
    t0 = time.perf_counter()
    model = MODELS.build(dict(type='HGRSOVSeg', classes=CLASSES[:n_classes], clip_type='CLIP',
                              vit_type=vit_type, pretrained='random', text_cache=False))
    build_s = time.perf_counter() - t0
    rss_built = peak_rss_gb()
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-5,
                              weight_decay=1e-4)
    x = torch.randn(1, 3, size, size)
    labels = torch.randint(0, n_classes, (1, size, size))
    model.train()

    def step():
        logits = model.encode_decode(x)
        loss = torch.nn.functional.cross_entropy(logits, labels)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()

    step()                                         # warm-up
    t0 = time.perf_counter()
    for _ in range(iters):
        step()
    train_s = (time.perf_counter() - t0) / iters
    rss_train = peak_rss_gb()
    model.eval()
    with torch.no_grad():
        model.predict(x)
        t0 = time.perf_counter()
        for _ in range(iters):
            model.predict(x)
    infer_s = (time.perf_counter() - t0) / iters
    decoder = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return dict(backbone=f'CLIP {vit_type}', size=size, classes=n_classes, build_s=round(build_s, 1),
                train_s_per_iter=round(train_s, 2), infer_s_per_image=round(infer_s, 2),
                decoder_params_M=round(decoder / 1e6, 2), peak_rss_after_build_GB=round(rss_built, 2),
                peak_rss_GB=round(max(rss_train, peak_rss_gb()), 2),
                threads=torch.get_num_threads())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--backbones', nargs='+', default=['ViT-L/14', 'ViT-B/16'])
    p.add_argument('--size', type=int, default=512)
    p.add_argument('--classes', type=int, default=10)
    p.add_argument('--iters', type=int, default=3)
    p.add_argument('--threads', type=int)
    p.add_argument('--one', help=argparse.SUPPRESS)     # internal: measure one backbone
    a = p.parse_args(argv)
    if a.classes > len(CLASSES):
        p.error(f'--classes at most {len(CLASSES)}')
    if a.threads:
        import torch
        torch.set_num_threads(a.threads)
    if a.one:
        print(json.dumps(measure(a.one, a.size, a.classes, a.iters)))
        return 0
    rows = []
    for vit in a.backbones:
        cmd = [sys.executable, __file__, '--one', vit, '--size', str(a.size), '--classes',
               str(a.classes), '--iters', str(a.iters)] + (['--threads', str(a.threads)]
                                                          if a.threads else [])
        print(f'measuring CLIP {vit} at {a.size}², {a.classes} classes …', flush=True)
        out = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
        if out.returncode != 0:
            print(out.stderr[-2000:], file=sys.stderr)
            return out.returncode
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print('  ' + ', '.join(f'{k}={v}' for k, v in rows[-1].items()), flush=True)
    print('\n| backbone | train s/iter (batch 1) | inference s/image | peak RSS GB | decoder params M |')
    print('| --- | --- | --- | --- | --- |')
    for r in rows:
        print(f"| {r['backbone']} | {r['train_s_per_iter']} | {r['infer_s_per_image']} | "
              f"{r['peak_rss_GB']} | {r['decoder_params_M']} |")
    return 0


if __name__ == '__main__':
    sys.exit(main())
