#!/usr/bin/env python
"""Train SimFeatUp (JBU_One / JBU_Stack) on unlabeled images.

    python simfeatup_train/train.py --config simfeatup_train/configs/simfeatup_clip_vit_b16.py \
        [--work-dir DIR] [--cfg-options key=value ...] [--resume]
    torchrun --nproc_per_node 2 simfeatup_train/train.py --config ...      # several GPUs

Writes <work-dir>/<upsampler>_<clip_type>_<vit_type>.ckpt, which inference loads with
feature_up_cfg=dict(model_name=..., model_path=...). See simfeatup_train/README.md.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path


def parse_args(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--config', required=True,
                   help='a training config, e.g. simfeatup_train/configs/simfeatup_clip_vit_b16.py')
    p.add_argument('--work-dir', help="outputs (default: the config's work_dir)")
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                   help='override settings, e.g. data=my_images/ batch_size=2 max_steps=100 '
                        'clip_type=GeoRSCLIP vit_type=ViT-B/32 pretrained=PATH')
    p.add_argument('--resume', action='store_true',
                   help='continue the run in the work dir from its latest state')
    return p.parse_args(argv)


def load_config(path: str, options: dict, work_dir: str | None = None) -> dict:
    """The config file's settings (mmengine format, `_base_` allowed), then the overrides."""
    from mmengine.config import Config
    if not Path(path).is_file():
        raise FileNotFoundError(f'config not found: {path}')
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(options)
    settings = {k: v for k, v in cfg.to_dict().items() if not k.startswith('_')}
    if work_dir:
        settings['work_dir'] = work_dir
    return settings


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')
    from segearth_ov.training import TrainingStateError, WorkDirBusy
    from simfeatup_train.trainer import train
    try:
        path = train(load_config(args.config, args.cfg_options, args.work_dir), resume=args.resume)
    except (WorkDirBusy, TrainingStateError) as err:
        raise SystemExit(f'error: {err}') from None
    if os.environ.get('RANK', '0') == '0':
        print(f'SimFeatUp checkpoint: {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
