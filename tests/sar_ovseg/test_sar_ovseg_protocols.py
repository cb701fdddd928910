"""SAR-OVSeg protocols: zero-shot over the built sources, and the trained SAR model (short
training on speckled synthetic data, then the held-out-source evaluation and its sheet)."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, TINY_CFG, TINY_PT, load_script
from sar_ovseg_helpers import load_builder, write_learnable_sources, write_sources

TINY = [f'model.pretrained={TINY_PT}', f'model.model_cfg={TINY_CFG}']
NO_WORKERS = ['test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']


def load_tool():
    return load_script('tools/sar_ovseg/evaluate.py')


def parse_ious(text):
    return {k: float(v) for k, v in (p.split('=') for p in text.split('; '))}


def test_zeroshot_scores_every_source_at_its_levels(tmp_path):
    from openpyxl import Workbook
    from segearth_ov.evaluation.sar_ovseg import read_sheet
    write_sources(tmp_path / 'data')
    bench = tmp_path / 'SAR-OVSeg'
    load_builder().build(tmp_path / 'data', bench, sources=['pie_sar', 'yeseg_sar'],
                         log=lambda *a: None, progress=False)
    results = tmp_path / 'results.xlsx'
    wb = Workbook()
    wb.active.title = 'mine'
    wb.active.append(['kept'])
    wb.save(results)
    args = ['zeroshot', '--data-root', str(bench), '--results', str(results),
            '--work-dir', str(tmp_path / 'wd'), '--cfg-options', *TINY,
            'model.feature_up=False', 'model.device=cpu', 'model.slide_crop=0',
            'test_dataloader.dataset.pipeline.1.scale=(112,112)', *NO_WORKERS]
    assert load_tool().main(args) == 0
    rows = read_sheet(results, 'sar-ovseg-zeroshot')
    assert sorted((r['source'], r['level']) for r in rows) == [
        ('pie_sar', 1), ('pie_sar', 2), ('yeseg_sar', 1), ('yeseg_sar', 2)]
    by = {(r['source'], r['level']): r for r in rows}
    assert list(parse_ious(by['pie_sar', 2]['per-class IoU'])) == [
        'urban area', 'road', 'tree', 'cropland', 'water']
    assert list(parse_ious(by['yeseg_sar', 1]['per-class IoU'])) == [
        'built-up', 'paved surface', 'vegetation', 'water', 'bare land']
    for r in rows:
        ious = [v for v in parse_ious(r['per-class IoU']).values() if not math.isnan(v)]
        assert abs(r['mIoU'] - sum(ious) / len(ious)) < 0.02
    # a second run replaces its own rows only; the user's sheet stays
    assert load_tool().main(args[:1] + ['--sources', 'pie_sar', '--levels', '1']
                            + args[1:]) == 0
    assert len(read_sheet(results, 'sar-ovseg-zeroshot')) == 4
    from openpyxl import load_workbook
    assert load_workbook(results)['mine']['A1'].value == 'kept'

    # (d) prompt flexibility: one row per prompt set, all level-2 classes on all test tiles
    prompts = ROOT / 'configs' / 'sar_ovseg' / 'prompts'
    assert load_tool().main(['prompts', '--prompt-sets', str(prompts / 'names.txt'),
                             str(prompts / 'synonyms.txt')] + args[1:]) == 0
    rows = read_sheet(results, 'sar-ovseg-prompts')
    assert sorted(r['prompt set'] for r in rows) == ['names', 'synonyms']
    assert len(parse_ious(rows[0]['per-class IoU'])) == 11


CONFIG = '''_base_ = {base!r}
crop_size = (64, 64)
sar_ovseg = dict(level=2, held_out='pie_sar', unseen=('bare land',))
model = dict(pretrained={pt!r}, model_cfg={cfg!r}, c_k=32, c_o=(32, 16),
             templates=['a SAR image of {{}}.', 'a radar image of {{}}.'],
             data_preprocessor=dict(size=crop_size))
train_pipeline = [
    dict(type='LoadSARImageFromFile'), dict(type='LoadAnnotations'),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal', 'vertical']),
    dict(type='RandomRotate90', prob=0.5), dict(type='RandomGainDB', gain_db=(-1, 1), prob=0.5),
    dict(type='GammaSpeckle', looks=(8.0, 16.0), prob=1.0), dict(type='PackSegInputs')]
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root={root!r}, pipeline=train_pipeline))
test_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(data_root={root!r}))
optim_wrapper = dict(optimizer=dict(lr=1e-2))
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end={iters},
                        by_epoch=False)]
train_cfg = dict(max_iters={iters})
default_hooks = dict(logger=dict(interval=4), checkpoint=dict(interval={iters}))
randomness = dict(seed=0)
'''
ITERS = 16


def test_trained_sar_model_learns_and_held_out_evaluation_writes_its_sheet(tmp_path):
    from segearth_ov.evaluation.sar_ovseg import read_sheet
    write_learnable_sources(tmp_path / 'data')
    bench = tmp_path / 'SAR-OVSeg'
    load_builder().build(tmp_path / 'data', bench, log=lambda *a: None, progress=False)
    config = tmp_path / 'sovs_tiny_lodo_pie.py'
    config.write_text(CONFIG.format(
        base=str(ROOT / 'configs' / 'sar_ovseg' / 'sovs_alignearth_lodo_pie_sar.py'),
        pt=str(TINY_PT), cfg=str(TINY_CFG), root=str(bench), iters=ITERS))
    work = tmp_path / 'work'
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='2')
    proc = subprocess.run([sys.executable, str(ROOT / 'tools' / 'train.py'), str(config),
                           '--work-dir', str(work)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = sorted(work.glob('*/vis_data/scalars.json'))[-1]
    losses = [json.loads(ln)['loss'] for ln in log.read_text().splitlines() if '"loss"' in ln]
    assert losses[-1] < losses[0] * 0.9, losses

    results = tmp_path / 'results.xlsx'
    assert load_tool().main(['lodo', '--config', str(config), '--checkpoint',
                             str(work / f'iter_{ITERS}.pth'), '--data-root', str(bench),
                             '--results', str(results), '--work-dir', str(tmp_path / 'ev'),
                             '--levels', '2']) == 0
    rows = read_sheet(results, 'sar-ovseg-lodo')
    assert [(r['held-out'], r['level']) for r in rows] == [('pie_sar', 2)]
    ious = parse_ious(rows[0]['per-class IoU'])
    assert list(ious) == ['urban area', 'road', 'tree', 'cropland', 'water']
    # water (darkest) was learnt from YESeg-SAR and transfers to the held-out PIE-SAR
    assert ious['water'] > 30, ious             # chance: about 10

    # (c) open vocabulary on all test tiles: seen / unseen / harmonic mean in their sheet
    assert load_tool().main(['openvocab', '--config', str(config), '--checkpoint',
                             str(work / f'iter_{ITERS}.pth'), '--data-root', str(bench),
                             '--results', str(results), '--work-dir', str(tmp_path / 'ev')]) == 0
    (row,) = read_sheet(results, 'sar-ovseg-openvocab')
    assert row['unseen'] == 'bare land'
    s, u = row['mIoU.seen'], row['mIoU.unseen']
    assert u == parse_ious(row['per-class IoU'])['bare land']
    assert abs(row['hIoU'] - (2 * s * u / (s + u) if s + u else 0.0)) < 0.01
    assert [r['held-out'] for r in read_sheet(results, 'sar-ovseg-lodo')] == ['pie_sar']
