#!/usr/bin/env python
"""Score a model on SAR-OVSeg under one of the four protocols; rows go to results.xlsx.

    # (a) training-free zero-shot: SegEarth-OV + AlignEarth on every built source, levels 2 and 1
    python tools/sar_ovseg/evaluate.py zeroshot
    # (b) cross-dataset: a model trained without pie_sar, tested on pie_sar
    python tools/sar_ovseg/evaluate.py lodo --config configs/sar_ovseg/sovs_alignearth_lodo_pie_sar.py \
        --checkpoint work_dirs/sovs_alignearth_lodo_pie_sar/iter_40000.pth
    # (c) open vocabulary: seen / unseen mIoU and their harmonic mean
    python tools/sar_ovseg/evaluate.py openvocab --checkpoint work_dirs/sovs_alignearth_openvocab/iter_40000.pth
    # (d) prompt flexibility: the same model with each prompt set of configs/sar_ovseg/prompts/
    python tools/sar_ovseg/evaluate.py prompts --config configs/sar_ovseg/sovs_alignearth_all.py \
        --checkpoint work_dirs/sovs_alignearth_all/iter_40000.pth

Sheets: sar-ovseg-zeroshot / -lodo / -openvocab / -prompts of --results (docs/sar_ovseg.md).
The benchmark is the builder's output (--data-root, default data/SAR-OVSeg).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / 'configs' / 'sar_ovseg'
DEFAULT_CONFIG = dict(zeroshot=CONFIGS / 'zs_segearth_alignearth.py',
                      openvocab=CONFIGS / 'sovs_alignearth_openvocab.py',
                      prompts=CONFIGS / 'zs_segearth_alignearth.py')


def parse_args(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('protocol', choices=['zeroshot', 'lodo', 'openvocab', 'prompts'])
    p.add_argument('--config', help='the model config (default per protocol: '
                   'zeroshot/prompts zs_segearth_alignearth.py, openvocab '
                   'sovs_alignearth_openvocab.py; lodo needs one)')
    p.add_argument('--checkpoint', help='trained weights (the trained SAR model)')
    p.add_argument('--data-root', default='data/SAR-OVSeg', help='the built benchmark')
    p.add_argument('--held-out', help='lodo: the held-out source (default: the config\'s)')
    p.add_argument('--sources', nargs='+', help='zeroshot: only these sources')
    p.add_argument('--levels', nargs='+', type=int, default=[2, 1], choices=[1, 2])
    p.add_argument('--prompt-sets', nargs='+', help='prompts: level-2 class-name files '
                   '(default: configs/sar_ovseg/prompts/*.txt)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                   help='applied to every run, e.g. test_dataloader.num_workers=0')
    p.add_argument('--work-dir', default='work_dirs/sar_ovseg_eval')
    p.add_argument('--results', default='results.xlsx')
    return p.parse_args(argv)


def runs(args, cfg):
    """(keys of the row, level, split, class names, class lines, unseen) of each scoring."""
    from segearth_ov.datasets.sar_ovseg import load_taxonomy
    from segearth_ov.evaluation import sar_ovseg as S
    tax = load_taxonomy()
    meta = dict(cfg.get('sar_ovseg', {}) or {})
    if args.protocol == 'zeroshot':
        sources = args.sources or S.built_sources(args.data_root)
        if not sources:
            raise S.ProtocolError(f'no built source under {args.data_root}: run '
                                  'tools/sar_ovseg/build.py first')
        for src in sources:
            split = S.test_split(args.data_root, 'zeroshot', src)
            for level in args.levels:
                names = S.source_classes(src, level)
                if level == 2 and tax.finest_level(src) < 2 or not names:
                    continue
                yield dict(source=src, level=level), level, split, names, \
                    S.class_lines(names, level), ()
    elif args.protocol == 'lodo':
        held = args.held_out or meta.get('held_out')
        if not held:
            raise S.ProtocolError('lodo needs --held-out SOURCE or a config with '
                                  'sar_ovseg.held_out')
        split = S.test_split(args.data_root, 'lodo', held)
        for level in args.levels:
            names = S.source_classes(held, level)
            if level == 2 and tax.finest_level(held) < 2 or not names:
                continue
            yield {'held-out': held, 'level': level}, level, split, names, \
                S.class_lines(names, level), ()
    elif args.protocol == 'openvocab':
        unseen = tuple(meta.get('unseen', ()))
        if not unseen:
            raise S.ProtocolError(f'{args.config} names no hidden classes (sar_ovseg.unseen)')
        names = list(tax.classes(2))
        yield dict(checkpoint=str(args.checkpoint), unseen=', '.join(unseen)), 2, \
            S.test_split(args.data_root, 'openvocab'), names, S.class_lines(names, 2), unseen
    else:
        sets = args.prompt_sets or sorted(str(p) for p in (CONFIGS / 'prompts').glob('*.txt'))
        names = list(tax.classes(2))
        split = S.test_split(args.data_root, 'prompts')
        for f in sets:
            yield {'checkpoint': str(args.checkpoint or ''), 'prompt set': Path(f).stem}, 2, \
                split, names, S.class_lines(names, 2, f), ()


def main(argv=None) -> int:
    args = parse_args(argv)
    from segearth_ov.evaluation import sar_ovseg as S
    from segearth_ov.evaluation.run import evaluate, load_config
    config = args.config or DEFAULT_CONFIG.get(args.protocol)
    if config is None:
        raise SystemExit(f'{args.protocol} needs --config (configs/sar_ovseg/)')
    if not Path(config).is_file():
        raise SystemExit(f'config not found: {config}')
    if args.protocol in ('lodo', 'openvocab') and not args.checkpoint:
        raise SystemExit(f'{args.protocol} scores a trained model: give --checkpoint '
                         '(python tools/train.py CONFIG writes it)')
    if args.checkpoint and not Path(args.checkpoint).is_file():
        raise SystemExit(f'--checkpoint {args.checkpoint}: no such file')
    base = load_config(str(config), args.cfg_options)
    rows, written = [], None
    try:
        for keys, level, split, names, lines, unseen in runs(args, base):
            tag = '_'.join(str(v) for v in keys.values() if v).replace('/', '_')
            cfg = S.scoring_config(base, args.data_root, split, level, names, lines, unseen,
                                   args.checkpoint, Path(args.work_dir) / Path(config).stem / tag)
            metrics, _, _ = evaluate(cfg, str(config), results=None,
                                     reuse_model=cfg.model.type == 'SegEarthSegmentation')
            rows.append(S.result_row(metrics, config=str(config), **keys))
    except S.ProtocolError as err:
        raise SystemExit(str(err))
    finally:
        from segearth_ov.evaluation.run import release_models
        release_models()
        if rows:
            written = S.update_sheet(args.results, args.protocol, rows)
    print(f'{len(rows)} row(s) in sheet {S.SHEETS[args.protocol]} of {written}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
