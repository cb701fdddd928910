#!/usr/bin/env python
"""Train a model from an mmseg config with mmengine's Runner (HG-RSOVSSeg's decoder).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--cfg-options k=v ...]
    bash dist_train.sh CONFIG GPUS [same options]          # torchrun; gloo on CPU

Checkpoints go to the work dir (default work_dirs/<config name>) every
`default_hooks.checkpoint.interval` iterations; `--resume` continues a killed run from the
latest checkpoint there (or from the one given), with optimizer, schedule, iteration and
data position restored.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def parse_args(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config', help='e.g. configs/hg_rsovsseg/hg_vitl14_openearthmap.py')
    p.add_argument('--work-dir', help='checkpoints and logs (default: work_dirs/<config name>)')
    p.add_argument('--resume', nargs='?', const='auto', default=None, metavar='CKPT',
                   help='continue from the latest checkpoint of the work dir, or from CKPT')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                   help='override config entries, e.g. train_cfg.max_iters=1000 model.c_k=256')
    p.add_argument('--launcher', choices=['none', 'pytorch'], default='none',
                   help='pytorch: started by torchrun (dist_train.sh)')
    return p.parse_args(argv)


def build_config(args):
    from mmengine.config import Config
    if not os.path.isfile(args.config):
        raise SystemExit(f'config not found: {args.config} (see configs/hg_rsovsseg/)')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or str(
        Path('work_dirs') / Path(args.config).stem)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume:
        if not os.path.isfile(args.resume):
            raise SystemExit(f'--resume {args.resume}: no such checkpoint')
        cfg.resume, cfg.load_from = True, args.resume
    return cfg


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmengine.runner import Runner

    from segearth_ov.evaluation.run import init_distributed
    from segearth_ov.training.mmengine_checkpoints import allow_mmengine_checkpoints
    allow_mmengine_checkpoints()
    cfg = build_config(args)
    init_distributed(cfg)
    try:         # also when building the runner fails: the group is destroyed in finally
        runner = Runner.from_cfg(cfg)
        runner.train()
    finally:
        import torch.distributed as dist
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    return 0


if __name__ == '__main__':
    sys.exit(main())
