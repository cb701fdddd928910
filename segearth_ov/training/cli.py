"""Train a model from an mmseg config with mmengine's Runner (HG-RSOVSSeg's decoder):
`segearth-train`, or `python tools/train.py` in a clone.

    segearth-train CONFIG [--work-dir DIR] [--resume [CKPT]] [--cfg-options k=v ...]
    bash dist_train.sh CONFIG GPUS [same options]          # torchrun; gloo on CPU

Checkpoints go to the work dir (default work_dirs/<config name>) every
`default_hooks.checkpoint.interval` iterations; `--resume` continues a killed run from the
latest checkpoint there (or from the one given), with optimizer, schedule, iteration and
data position restored. A second run on a work dir in use is refused (train.lock names it).
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path


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
    from segearth_ov.evaluation.cfg_options import ConfigKeyError, check_cfg_options
    from segearth_ov.utils.paths import NotFoundError, find_config
    try:
        args.config = str(find_config(args.config))
    except NotFoundError as err:
        raise SystemExit(f'error: {err} (see configs/hg_rsovsseg/)') from None
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        try:
            check_cfg_options(cfg, args.cfg_options)
        except ConfigKeyError as err:
            raise SystemExit(f'error: {err}') from None
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or str(
        Path('work_dirs') / Path(args.config).stem)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume:
        if not os.path.isfile(args.resume):
            raise SystemExit(f'error: --resume {args.resume}: no such checkpoint')
        cfg.resume, cfg.load_from = True, args.resume
    return cfg


def main(argv=None) -> int:
    args = parse_args(argv)
    from segearth_ov.utils import advice
    with advice.using(advice.TRAIN_CFG_OPTIONS):      # error advice: --cfg-options …
        return train(args)


def train(args) -> int:
    from mmengine.runner import Runner

    from segearth_ov.training import WorkDirBusy, check_free, work_dir_lock
    from segearth_ov.training.preflight import MissingInput, check_training_inputs
    from segearth_ov.utils.checkpoints import CheckpointError, mmengine_checkpoints_allowed
    from segearth_ov.evaluation.run import same_start
    from segearth_ov.utils.distributed import StartMismatch, init_mmengine_distributed
    cfg = build_config(args)
    first_rank = os.environ.get('RANK', '0') == '0'
    try:
        # a busy work dir, the data, then the weights: before any folder is made (the lock is
        # rank 0's: the other ranks of this run would find it held by their own rank 0)
        if first_rank:
            check_free(cfg.work_dir)
        check_training_inputs(cfg, args.config)
        # one run per work dir: rank 0 holds its lock (train.lock) until the end
        with work_dir_lock(cfg.work_dir, enabled=first_rank):
            init_mmengine_distributed(cfg)
            runner = Runner.from_cfg(cfg)
            same_start(cfg, 'train_dataloader')   # every node: same config and data
            # `--resume` / `load_from` load in here
            with mmengine_checkpoints_allowed(cfg.get('load_from') or 'the checkpoint resumed'):
                runner.train()
    except (WorkDirBusy, CheckpointError, MissingInput, StartMismatch) as err:
        raise SystemExit(f'error: {err}') from None
    finally:
        import torch.distributed as dist
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    return 0

