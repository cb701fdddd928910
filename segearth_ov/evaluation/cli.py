"""Evaluate SegEarth-OV on one dataset config (`segearth-eval`, or `python eval.py` in a clone).

    segearth-eval --config configs/cfg_loveda.py [--work-dir DIR] [--cfg-options k=v ...]
                   [--launcher none|pytorch] [--show-dir DIR] [--results results.xlsx]

Runs mmengine's Runner.test(), prints the metrics, writes <work-dir>/results.txt and appends
one row to results.xlsx (see docs/evaluation.md). Several GPUs: bash dist_test.sh.
Before a model is loaded, the --cfg-options keys (typos refused with the close matches), the
data folders (a missing one names its converter) and the images are checked.
"""
from __future__ import annotations

import argparse
import sys


def parse_args(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--config', required=True, help='a config, e.g. configs/cfg_loveda.py')
    p.add_argument('--work-dir', help='logs and results.txt (default: work_dirs/<config name>)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                   help='override config entries, e.g. model.clip_type=GeoRSCLIP '
                        'model.vit_type=ViT-B/32 model.model_type=ClearCLIP '
                        'model.pretrained=PATH test_dataloader.dataset.data_root=DIR')
    p.add_argument('--launcher', choices=['none', 'pytorch'], default='none',
                   help='pytorch: started by torchrun (dist_test.sh)')
    p.add_argument('--precision', choices=['auto', 'fp32', 'fp16', 'bf16'],
                   help="the ViT's precision: auto (the config's default: fp32 on CPU, fp16 "
                   'autocast on CUDA), fp32, bf16 or fp16; the paper numbers are fp32 on CPU. '
                   "Recorded in the run's weights line")
    p.add_argument('--show-dir', help='save image | prediction overlays with a legend here')
    p.add_argument('--results', default='results.xlsx',
                   help='the workbook to append a row to (default: ./results.xlsx)')
    p.add_argument('--no-results', action='store_true', help='do not write an xlsx row')
    p.add_argument('--tag', default='', help='a label for this run in results.xlsx '
                   '(e.g. "no-featup"); runs with different tags are separate summary rows')
    p.add_argument('--lock-timeout', type=float, metavar='SECONDS',
                   help="how long to wait for another run's lock on the results folder before "
                   'writing the row to a new workbook beside it (default: '
                   '$SEGEARTH_LOCK_TIMEOUT, else 300)')
    return p.parse_args(argv)


def main(argv=None) -> int:
    return start(parse_args, run, argv)


def start(parse, run_parsed, argv=None) -> int:
    """What eval.py and eval_all.py do first: huge pages before torch's first allocation
    (segearth_ov/utils/runtime.py), then `run_parsed(parse(argv))` with the error advice of
    --cfg-options (model.…)."""
    from segearth_ov.utils.runtime import use_huge_pages
    use_huge_pages()
    args = parse(argv)
    from segearth_ov.utils import advice
    with advice.using(advice.CFG_OPTIONS):
        return run_parsed(args)


def run(args) -> int:
    """Everything that can be checked without the model first (config keys, data folders,
    images), each failure one line; then the evaluation."""

    from segearth_ov.evaluation.cfg_options import ConfigKeyError
    from segearth_ov.evaluation.run import (check_test_images, evaluate, how_to_prepare,
                                            load_config, missing_data)
    from segearth_ov.utils.checkpoints import CheckpointError
    from segearth_ov.utils.distributed import StartMismatch, init_mmengine_distributed
    from segearth_ov.utils.paths import NotFoundError, find_config
    try:
        args.config = str(find_config(args.config))     # a path, or a bare name from anywhere
    except NotFoundError as err:
        return _error(f'{err} (the benchmark configs: configs/cfg_*.py)')
    if args.precision:
        args.cfg_options['model.precision'] = args.precision
    try:
        cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher,
                          args.show_dir)
    except ConfigKeyError as err:
        return _error(err)
    missing = missing_data(cfg)
    if missing:
        return _error(f'data not found: {", ".join(missing)} ({how_to_prepare(args.config)})')
    try:
        check_test_images(cfg)
    except (ValueError, FileNotFoundError) as err:   # NoImagesError, a bad class file, …
        return _error(err)
    init_mmengine_distributed(cfg)
    try:
        evaluate(cfg, args.config, None if args.no_results else args.results, args.tag,
                 lock_timeout=args.lock_timeout)
    except (FileNotFoundError, CheckpointError) as err:   # weights not found or unreadable,
        return _error(err)                                # raised inside the model's build
    except StartMismatch as err:                          # a node started otherwise
        return _error(err)
    finally:
        import torch.distributed as dist
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    return 0


def _error(message) -> int:
    print(f'error: {message}', file=sys.stderr)
    return 2

