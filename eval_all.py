#!/usr/bin/env python
"""Evaluate every benchmark config whose data is present, into one results.xlsx.

    python eval_all.py                              # all 25 benchmark configs (+ HRSID)
    python eval_all.py --group sar                  # optical | single-class | sar | extra
    python eval_all.py --configs loveda configs/cfg_udd5.py
    python eval_all.py --cfg-options model.model_type=ClearCLIP --tag clearclip

Configs whose data folders are missing are skipped, and the missing paths are printed.
Each run appends a row to results.xlsx; its `summary` sheet is laid out like the paper's
tables (one row per method/backbone, one column per dataset, the average of each table).
All runs share one process: consecutive configs with the same model settings (backbone,
attention, thresholds and class lines, e.g. DeepGlobe → Massachusetts → SpaceNet) reuse the
built model; when only the classes or thresholds differ, the model's image side is kept
and `set_classes` computes the new text embeddings; and the text-embedding cache
($SEGEARTH_CACHE) means class names already encoded for a backbone are not encoded again.
"""
from __future__ import annotations

import argparse
import gc
import sys
import traceback
from pathlib import Path



def parse_args(argv=None):
    from mmengine.config import DictAction
    from segearth_ov.evaluation.benchmarks import GROUPS
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--group', nargs='+', choices=[*GROUPS, 'extra'],
                   help='only these tables of the paper (extra: HRSID)')
    p.add_argument('--configs', nargs='+',
                   help='config files or dataset names (loveda, cfg_loveda, configs/cfg_loveda.py)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                   help='applied to every config (e.g. model.clip_type=... model.pretrained=...)')
    p.add_argument('--precision', choices=['auto', 'fp32', 'fp16', 'bf16'],
                   help="the ViT's precision: auto (the config's default: fp32 on CPU, fp16 autocast "
                   'on CUDA), fp32, bf16 or fp16; the paper numbers are fp32 on CPU. Recorded in '
                   "the run's weights line")
    p.add_argument('--work-dir', default='work_dirs/eval_all',
                   help='one sub-folder per config (default: work_dirs/eval_all)')
    p.add_argument('--results', default='results.xlsx', help='workbook (default: ./results.xlsx)')
    p.add_argument('--tag', default='', help='a label for these runs in results.xlsx')
    p.add_argument('--dry-run', action='store_true', help='only list what would run or be skipped')
    return p.parse_args(argv)


def config_path(name: str) -> Path:
    """A config file from a path or a dataset name (segearth_ov.utils.paths.find_config); a
    name found nowhere stays as `cfg_<name>.py`, skipped later as "no such config"."""
    from segearth_ov.utils.paths import NotFoundError, find_config
    try:
        return find_config(name)
    except NotFoundError:
        stem = Path(name).stem
        return Path(stem if stem.startswith('cfg_') else f'cfg_{stem}').with_suffix('.py')


def select(args) -> list[Path]:
    from segearth_ov.evaluation.benchmarks import BENCHMARKS
    if args.configs:
        return [config_path(c) for c in args.configs]
    groups = set(args.group or ())
    return [config_path(b.name) for b in BENCHMARKS if not groups or b.group in groups]


def main(argv=None) -> int:
    from segearth_ov.evaluation.cli import start
    return start(parse_args, run, argv)


def run(args) -> int:
    from tqdm import tqdm

    from segearth_ov.evaluation.cfg_options import ConfigKeyError
    from segearth_ov.evaluation.results import read_rows, summary_frame
    from segearth_ov.evaluation.run import (evaluate, how_to_prepare, load_config,
                                            missing_data, release_models)

    runnable, skipped, failed, done = [], [], [], []
    if args.precision:
        args.cfg_options['model.precision'] = args.precision
    for path in select(args):
        if not path.is_file():
            skipped.append((path.stem, f'no such config: {path}'))
            continue
        try:
            cfg = load_config(str(path), args.cfg_options,
                              work_dir=str(Path(args.work_dir) / path.stem))
        except ConfigKeyError as err:
            print(f'error: {path.name}: {err}', file=sys.stderr)
            return 2
        missing = missing_data(cfg)
        if missing:
            skipped.append((path.stem, f'data not found: {", ".join(missing)} '
                            f'({how_to_prepare(path)})'))
        else:
            runnable.append((path, cfg))

    print(f'{len(runnable)} config(s) to run, {len(skipped)} skipped', flush=True)
    for name, why in skipped:
        print(f'  SKIP {name}: {why}', flush=True)
    if skipped:
        print('  (or link the prepared data under data/)')
    if args.dry_run:
        for path, _ in runnable:
            print(f'  RUN  {path.stem}')
        return 0
    if not runnable:        # said once, without empty progress bars or a second skip list
        print('nothing to run: no selected config has its data on this machine (the SKIP '
              'lines above say how to prepare each)', file=sys.stderr)
        return 1

    written = set()
    for path, cfg in tqdm(runnable, desc='eval_all', unit='dataset', file=sys.stdout):
        tqdm.write(f'=== {path.stem}')
        try:
            _, row, xlsx = evaluate(cfg, str(path), args.results, args.tag, reuse_model=True)
            done.append((path.stem, row['score']))
            if xlsx:
                written.add(str(xlsx))
        except Exception as err:   # one broken dataset must not stop the others
            traceback.print_exc()
            failed.append((path.stem, f'{type(err).__name__}: {err}'))
        finally:
            gc.collect()
            _empty_cuda_cache()

    release_models()
    print(f'\ndone: {len(done)}, skipped: {len(skipped)}, failed: {len(failed)}')
    for name, why in skipped:
        print(f'  SKIPPED {name}: {why}')
    for name, why in failed:
        print(f'  FAILED {name}: {why}')
    for xlsx in sorted(written):
        table = summary_frame(read_rows(xlsx))
        print(f'\nsummary ({xlsx}, sheet "summary"):')
        print(table.to_string(index=False))
    return 1 if failed else 0


def _empty_cuda_cache() -> None:
    import torch
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


if __name__ == '__main__':
    sys.exit(main())
