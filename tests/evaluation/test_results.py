"""results.xlsx: rows are appended atomically and never lost; bad files are left as they are."""
from __future__ import annotations

import math
import os

import pytest
from openpyxl import Workbook, load_workbook

from segearth_ov.evaluation.results import (COLUMNS, append_row, make_row, read_rows,
                                            results_text, summary_frame)

METRICS = {'aAcc': 80.0, 'mIoU': 50.0, 'mAcc': 60.0, 'IoU.background': 70.0, 'IoU.road': 30.0}
MODEL = dict(clip_type='CLIP', vit_type='ViT-B/16', model_type='SegEarth')


def row(config='configs/cfg_deepglobe_road.py', metrics=METRICS, model=MODEL, tag=''):
    return make_row(metrics, config, model, images=2, seconds=1.5, tag=tag, work_dir='w')


def test_make_row_reports_the_papers_metric():
    r = row()
    assert list(r) == COLUMNS
    assert r['dataset'] == 'DeepGlobe' and r['mIoU'] == 50.0
    assert r['score'] == 30.0                     # single-class set: IoU of the road class
    assert r['per-class IoU'] == 'background=70.00; road=30.00'
    assert row('configs/cfg_loveda.py')['score'] == 50.0   # multi-class: mIoU
    assert row('my/cfg_custom.py')['dataset'] == 'custom'
    nan = row(metrics={**METRICS, 'IoU.road': float('nan')})
    assert 'road=nan' in nan['per-class IoU']
    assert nan['score'] is None
    text = results_text(r, METRICS)
    assert 'mIoU: 50.00' in text and '  road: 30.00' in text


def test_rows_accumulate_and_other_sheets_are_kept(tmp_path):
    path = tmp_path / 'results.xlsx'
    wb = Workbook()
    wb.active.title = 'my notes'
    wb.active['A1'] = 'keep me'
    wb.save(path)
    assert append_row(path, row()) == path
    assert append_row(path, row('configs/cfg_loveda.py')) == path
    rows = read_rows(path)
    assert [r['dataset'] for r in rows] == ['DeepGlobe', 'LoveDA']
    wb = load_workbook(path)
    assert wb['my notes']['A1'].value == 'keep me'
    assert {'results', 'summary'} <= set(wb.sheetnames)
    assert not [p for p in os.listdir(tmp_path) if p.endswith('.tmp.xlsx')]   # no leftovers


def test_summary_is_laid_out_like_the_papers_tables():
    rows = [row('configs/cfg_loveda.py'), row('configs/cfg_udd5.py'),
            row('configs/cfg_deepglobe_road.py'),
            row('configs/cfg_loveda.py', metrics={**METRICS, 'mIoU': 55.0}),   # latest wins
            row('configs/cfg_whu_sar.py', model=dict(clip_type='AlignEarth', vit_type='ViT-B/16',
                                                     model_type='SCLIP')),
            row('configs/cfg_loveda.py', tag='no-featup')]
    table = summary_frame(rows)
    assert list(table.columns) == ['method', 'backbone', 'LoveDA', 'UDD5', 'Average optical',
                                   'DeepGlobe', 'Average single-class', 'WHU-SAR', 'Average SAR']
    by_method = {(r.method, r.backbone): r for r in table.itertuples(index=False)}
    segearth = by_method[('SegEarth', 'CLIP ViT-B/16')]
    assert segearth.LoveDA == 55.0 and segearth.UDD5 == 50.0
    assert segearth._4 == 52.5                    # Average optical
    assert segearth.DeepGlobe == 30.0
    assert math.isnan(segearth._8)                # no SAR result for this method
    assert by_method[('SCLIP', 'AlignEarth ViT-B/16')]._7 == 50.0
    assert ('SegEarth [no-featup]', 'CLIP ViT-B/16') in by_method
    assert len(table) == 3


def test_corrupt_file_keeps_its_bytes_and_the_row_goes_beside_it(tmp_path, capsys):
    path = tmp_path / 'results.xlsx'
    path.write_bytes(b'not a zip file at all')
    written = append_row(path, row())
    assert written != path and written.parent == tmp_path
    assert written.name.startswith('results.') and written.suffix == '.xlsx'
    assert path.read_bytes() == b'not a zip file at all'
    assert [r['dataset'] for r in read_rows(written)] == ['DeepGlobe']
    err = capsys.readouterr().err
    assert 'results.xlsx' in err and str(written) in err and 'left as it was' in err
    # a second failure does not overwrite the first side file
    assert append_row(path, row()) not in (path, written)


def test_file_open_in_a_spreadsheet_program_is_not_replaced(tmp_path):
    path = tmp_path / 'results.xlsx'
    append_row(path, row())
    before = path.read_bytes()
    (tmp_path / '.~lock.results.xlsx#').write_text('LibreOffice lock')
    written = append_row(path, row('configs/cfg_loveda.py'))
    assert written != path and path.read_bytes() == before
    # the side file has the rows that were there plus the new one
    assert [r['dataset'] for r in read_rows(written)] == ['DeepGlobe', 'LoveDA']


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, 'geteuid') else True,
                    reason='root ignores file permissions')
def test_unreadable_file_goes_beside(tmp_path):
    path = tmp_path / 'results.xlsx'
    append_row(path, row())
    path.chmod(0)
    try:
        assert append_row(path, row()) != path
    finally:
        path.chmod(0o644)


# ---------------------------------------------------------------- the weights of a row
WEIGHTS = dict(weights=dict(file='/w/tiny-clip-vit-b16.pt', sha256='1a2b3c4d' + '0' * 56),
               upsampler=dict(file='/w/tiny_jbu_one.ckpt', sha256='5e6f7a8b' + '1' * 56))
OLD_COLUMNS = ['config', 'clip_type', 'vit_type', 'model_type', 'dataset', 'aAcc', 'mIoU',
               'mAcc', 'score', 'per-class IoU', 'images', 'seconds', 'tag', 'time', 'work_dir']


def test_row_records_the_weight_files_and_their_hashes():
    r = make_row(METRICS, 'configs/cfg_loveda.py', MODEL, 2, 1.5, weights=WEIGHTS)
    assert r['weights'] == '/w/tiny-clip-vit-b16.pt' and r['weights_sha256'] == '1a2b3c4d' + '0' * 56
    assert r['upsampler'] == '/w/tiny_jbu_one.ckpt' and r['upsampler_sha256'].startswith('5e6f7a8b')
    assert r['checkpoint'] == '' and r['checkpoint_sha256'] == ''
    assert COLUMNS[:len(OLD_COLUMNS)] == OLD_COLUMNS          # new columns only after the old
    text = results_text(r, METRICS)
    assert f"weights: /w/tiny-clip-vit-b16.pt (sha256 1a2b3c4d{'0' * 56})" in text
    random = make_row(METRICS, 'configs/cfg_loveda.py', MODEL, 2, 1.5,
                      weights=dict(weights=dict(file='random', sha256=None), upsampler=None))
    assert random['weights'] == 'random' and random['upsampler'] == ''


def test_a_workbook_from_before_the_weights_columns_keeps_its_rows(tmp_path):
    """A results.xlsx written with the old 15 columns (and a column of the user's): the new
    row appends the weights columns after them; the old rows keep every value."""
    path = tmp_path / 'results.xlsx'
    wb = Workbook()
    ws = wb.active
    ws.title = 'results'
    ws.append(OLD_COLUMNS + ['my note'])
    old = row('configs/cfg_udd5.py')
    ws.append([old[c] for c in OLD_COLUMNS] + ['checked'])
    wb.save(path)
    append_row(path, make_row(METRICS, 'configs/cfg_loveda.py', MODEL, 2, 1.5, weights=WEIGHTS))
    header = [c.value for c in load_workbook(path)['results'][1]]
    assert header[:len(OLD_COLUMNS)] == OLD_COLUMNS and header[-1] == 'my note'
    assert header[len(OLD_COLUMNS):-1] == ['weights', 'weights_sha256', 'upsampler',
                                           'upsampler_sha256', 'checkpoint', 'checkpoint_sha256']
    first, second = read_rows(path)
    assert first['dataset'] == 'UDD5' and first['my note'] == 'checked' and first['weights'] is None
    assert second['weights_sha256'] == WEIGHTS['weights']['sha256']


def test_summary_keeps_runs_with_other_weights_apart():
    """The same method and backbone with fixture and with preset weights: two summary rows,
    the backbone naming the weights (file@first 8 hex digits); rows without weights as before."""
    fixture = make_row(METRICS, 'configs/cfg_loveda.py', MODEL, 2, 1.5, weights=WEIGHTS)
    plain = row('configs/cfg_loveda.py', metrics={**METRICS, 'mIoU': 40.0})
    table = summary_frame([fixture, plain])
    got = dict(zip(table['backbone'], table['LoveDA']))
    assert got == {'CLIP ViT-B/16 (tiny-clip-vit-b16.pt@1a2b3c4d · SimFeatUp '
                   'tiny_jbu_one.ckpt@5e6f7a8b)': 50.0, 'CLIP ViT-B/16': 40.0}
