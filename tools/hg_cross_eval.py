#!/usr/bin/env python
"""HG-RSOVSSeg's cross-dataset protocol (paper Table 6): each trained model on every test set.

    python tools/hg_cross_eval.py --checkpoint openearthmap=work_dirs/hg_georsclip-vitl14-336_openearthmap/iter_80000.pth \
        [--checkpoint potsdam=...] [--backbone georsclip-vitl14-336] [--tests loveda potsdam ...]

For every `train=CKPT`, the model of `configs/hg_rsovsseg/hg_<backbone>_<train>.py` is loaded
from CKPT and tested on the test split of each dataset of configs/hg_rsovsseg/_base_/datasets/
with that dataset's class names (no retraining: only the text embeddings change). Test sets
whose data is missing are skipped and named. The matrix and each training set's mean mIoU
without its own set go to the `hg-cross` sheet of results.xlsx (cells of earlier runs kept).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HG_CONFIGS = ROOT / 'configs' / 'hg_rsovsseg'


def parse_args(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--checkpoint', action='append', required=True, metavar='TRAIN=CKPT',
                   help='a training set name (e.g. openearthmap) and its checkpoint')
    p.add_argument('--backbone', default='georsclip-vitl14-336',
                   help='config family hg_<backbone>_<train>.py (default: Table 6\'s)')
    p.add_argument('--tests', nargs='+', help='test sets (default: all seven)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                   help='applied to every run, e.g. test_dataloader.num_workers=0')
    p.add_argument('--work-dir', default='work_dirs/hg_cross')
    p.add_argument('--results', default='results.xlsx')
    return p.parse_args(argv)


def test_sets() -> list[str]:
    from segearth_ov.evaluation.hg_cross import ORDER
    names = [p.stem for p in sorted((HG_CONFIGS / '_base_' / 'datasets').glob('*.py'))]
    return [n for n in ORDER if n in names] + [n for n in names if n not in ORDER]


def cross_config(train_config: Path, test: str, checkpoint: str, cfg_options: dict, work_dir):
    """The training config, its test data and class names replaced by those of `test`."""
    from mmengine.config import Config
    cfg = Config.fromfile(str(train_config))
    test_cfg = Config.fromfile(str(HG_CONFIGS / '_base_' / 'datasets' / f'{test}.py'))
    cfg.test_dataloader.dataset = test_cfg.test_dataloader.dataset
    cfg.model.classes = test_cfg.model.classes
    cfg.model.test_cfg = test_cfg.model.test_cfg
    from segearth_ov.evaluation.cfg_options import ConfigKeyError, check_cfg_options
    try:
        check_cfg_options(cfg, cfg_options)
    except ConfigKeyError as err:
        raise SystemExit(f'error: {err}') from None
    cfg.merge_from_dict(cfg_options)
    cfg.load_from, cfg.resume, cfg.launcher = checkpoint, False, 'none'
    cfg.work_dir = str(work_dir)
    return cfg


def main(argv=None) -> int:
    args = parse_args(argv)
    from segearth_ov.utils import advice
    with advice.using(advice.CFG_OPTIONS):      # error advice: --cfg-options model.…
        return run(args)


def run(args) -> int:
    from mmengine.runner import Runner

    from segearth_ov.evaluation.hg_cross import table_records, update_table
    from segearth_ov.evaluation.run import missing_data
    from segearth_ov.utils.checkpoints import mmengine_checkpoints_allowed
    tests = args.tests or test_sets()
    results, skipped = {}, []
    for item in args.checkpoint:
        if '=' not in item:
            raise SystemExit(f'--checkpoint {item!r}: write TRAIN=CKPT, e.g. '
                             'openearthmap=work_dirs/x/iter_80000.pth')
        train, ckpt = item.split('=', 1)
        config = HG_CONFIGS / f'hg_{args.backbone}_{train}.py'
        if not config.is_file():
            raise SystemExit(f'no config {config} (training sets: {", ".join(test_sets())})')
        if not Path(ckpt).is_file():
            raise SystemExit(f'checkpoint not found: {ckpt}')
        for test in tests:
            cfg = cross_config(config, test, ckpt, args.cfg_options,
                               Path(args.work_dir) / f'{train}_on_{test}')
            missing = missing_data(cfg)
            if missing:
                skipped.append(f'{train} → {test}: data not found: {", ".join(missing)}')
                continue
            print(f'=== trained on {train}, tested on {test}', flush=True)
            with mmengine_checkpoints_allowed(cfg.get('load_from')):
                metrics = Runner.from_cfg(cfg).test()
            results.setdefault(train, {})[test] = round(float(metrics['mIoU']), 2)
    for s in skipped:
        print(f'  SKIPPED {s}')
    if results:
        written = update_table(args.results, results)
        header, rows = table_records(results)
        print(f'\nTable 6 ({written}, sheet "hg-cross"):')
        print('\t'.join(header))
        for r in rows:
            print('\t'.join('' if v is None else str(v) for v in r))
    return 0


if __name__ == '__main__':
    sys.exit(main())
