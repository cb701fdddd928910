#!/usr/bin/env python
"""Pixels per second of region prediction with 1, 2, … torchrun processes on the same inputs.

    python tools/benchmark_region.py --ranks 1,2 --model tiny --scenes 4 --size 1024
    python tools/benchmark_region.py --ranks 1,2,4,8 --model full --device cuda --size 4096

Writes --scenes synthetic GeoTIFFs (tools/benchmark_scene.py's scene) into a temporary
folder, then for each rank count runs the region path under torchrun (a fresh output
folder each time, so nothing is resumed) and prints one line per run:

    ranks R  seconds S  megapixels M  pixels_per_s X  speedup Y

Seconds are the wall time of all units and assembly (model building excluded: each rank
builds it once per job). --model as in benchmark_scene.py: full (ViT-B/16 + JBU_One,
random weights), tiny (the test fixtures), stub (reading, blending, writing only).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def worker(args) -> int:
    """One rank: build the model, run the region job, rank 0 prints its timing as JSON."""
    import torch

    from benchmark_scene import build
    from segearth_ov.mapping import predictor
    from segearth_ov.mapping import region
    from segearth_ov.utils.distributed import init_distributed
    ctx = init_distributed(args.device)
    torch.set_num_threads(args.threads)
    model = build(args.model, str(ctx.device))
    job = region.RegionJob(paths=sorted(Path(args.scenes_dir).glob('*.tif')), out=Path(args.out),
                           options=predictor.SceneOptions(tile=args.tile), key='benchmark', overlay=False,
                           progress=False, split_pixels=args.split_pixels)
    sync = region.RankSync(ctx.world_size)
    sync.barrier()
    t0 = time.perf_counter()
    with open(os.devnull, 'w') as null:
        stdout, sys.stdout = sys.stdout, null
        try:
            result = region.run_region(model, job, ctx.rank, ctx.world_size)
        finally:
            sys.stdout = stdout
    seconds = time.perf_counter() - t0
    if ctx.rank == 0:
        print('RESULT ' + json.dumps(dict(seconds=seconds, pixels=result['pixels'])), flush=True)
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--ranks', default='1,2', help='process counts to compare (default 1,2)')
    p.add_argument('--model', choices=('full', 'tiny', 'stub'), default='tiny')
    p.add_argument('--device', default='cpu')
    p.add_argument('--scenes', type=int, default=4, help='number of synthetic scenes')
    p.add_argument('--size', type=int, default=1024, help='scene side in pixels')
    p.add_argument('--tile', type=int, default=448)
    p.add_argument('--split-pixels', type=float, default=64e6)
    p.add_argument('--threads', type=int, default=1, help='torch threads per process')
    p.add_argument('--tmp', default=None)
    p.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
    p.add_argument('--scenes-dir', help=argparse.SUPPRESS)
    p.add_argument('--out', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.split_pixels = int(args.split_pixels)
    if args.worker:
        try:
            return worker(args)
        finally:
            import torch.distributed as dist
            if dist.is_available() and dist.is_initialized():
                dist.destroy_process_group()
    from benchmark_scene import write_scene
    ranks = [int(r) for r in args.ranks.split(',')]
    base = None
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        scenes = Path(tmp) / 'scenes'
        scenes.mkdir()
        for k in range(args.scenes):
            write_scene(scenes / f'scene{k}.tif', args.size, args.size, seed=k)
        print(f'# {args.scenes} scenes of {args.size}² px, model {args.model}, device '
              f'{args.device}, {args.threads} thread(s) per process', flush=True)
        for r in ranks:
            cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', str(r),
                   '--master_port', str(29700 + r), __file__, '--worker', '--scenes-dir',
                   str(scenes), '--out', str(Path(tmp) / f'out{r}'), '--model', args.model,
                   '--device', args.device, '--tile', str(args.tile), '--threads',
                   str(args.threads), '--split-pixels', str(args.split_pixels)]
            env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            line = next((ln for ln in proc.stdout.splitlines() if ln.startswith('RESULT ')), None)
            if proc.returncode or line is None:
                print(proc.stderr[-3000:], file=sys.stderr)
                return 1
            res = json.loads(line[7:])
            rate = res['pixels'] / res['seconds']
            base = base or rate
            print(f'ranks {r}  seconds {res["seconds"]:.2f}  megapixels '
                  f'{res["pixels"] / 1e6:.2f}  pixels_per_s {rate:,.0f}  speedup '
                  f'{rate / base:.2f}', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
