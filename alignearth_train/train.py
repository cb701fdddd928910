#!/usr/bin/env python
"""Train an AlignEarth SAR image encoder by distillation from a frozen optical CLIP.

    python alignearth_train/train.py --config alignearth_train/configs/alignearth_sar_vitb16.py \\
        --cfg-options data.pairs=PAIRS.txt [--work-dir DIR] [--resume] [--max-steps N]
    torchrun --nproc_per_node 4 alignearth_train/train.py --config … (several GPUs)

Writes <work-dir>/alignearth_latest.pt, an open_clip CLIP checkpoint that the segmentor
loads with clip_type='AlignEarth', pretrained=PATH (settings in the .json beside it).
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path


def parse_args(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split('\n\n', 1)[1])
    p.add_argument('--config', default=None,
                   help='a config (default: alignearth_train/configs/alignearth_sar_vitb16.py, '
                        "the paper's settings); only the keys it changes are needed")
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                   help='change config entries, e.g. data.pairs=PAIRS.txt batch_size=64 '
                        'micro_batch_size=16 teacher.clip_type=RemoteCLIP data.sar.to_db=True')
    p.add_argument('--work-dir', help='checkpoints, training state and logs (default: the '
                   "config's work_dir)")
    p.add_argument('--resume', nargs='?', const=True, default=None, metavar='STATE',
                   help="continue from <work-dir>/training_state.pt (or the STATE file given)")
    p.add_argument('--max-steps', type=int, default=None,
                   help='stop after this many optimiser steps in all, saving a resumable state')
    p.add_argument('--device', help='cpu, cuda, cuda:1 (default: CUDA if present)')
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    from alignearth_train.config import load_config
    from alignearth_train.trainer import AlignEarthTrainer
    options = dict(args.cfg_options)
    if args.work_dir:
        options['work_dir'] = args.work_dir
    if args.device:
        options['device'] = args.device
    from segearth_ov.training import TrainingStateError, WorkDirBusy, work_dir_lock
    cfg = load_config(args.config, options)
    try:
        # one run per work dir: rank 0 holds its lock from before the resume to the end
        with work_dir_lock(cfg['work_dir'], enabled=os.environ.get('RANK', '0') == '0'):
            trainer = AlignEarthTrainer(cfg, resume=args.resume)
            result = trainer.run(args.max_steps)
    except (WorkDirBusy, TrainingStateError) as err:
        raise SystemExit(f'error: {err}') from None
    finally:
        import torch.distributed as dist
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    if trainer.ctx.is_main:
        settings = Path(result['checkpoint']).with_suffix('.json')
        print(f"{'stopped at' if result['stopped'] else 'finished'} step {trainer.global_step}: "
              f"{result['checkpoint']} (load settings: {settings})")
    return result


if __name__ == '__main__':
    main()
