"""The Table 6 writer (cross-dataset matrix, mean without the diagonal) on a 2×2 case."""
from __future__ import annotations

import runpy

from openpyxl import load_workbook

from conftest import ROOT
from segearth_ov.evaluation.hg_cross import SHEET, read_matrix, update_table
from segearth_ov.evaluation.results import append_row


def sheet(path):
    return [list(r) for r in load_workbook(path)[SHEET].iter_rows(values_only=True)]


def test_two_by_two_table_and_mean_without_diagonal(tmp_path):
    xlsx = tmp_path / 'results.xlsx'
    append_row(xlsx, dict(config='configs/cfg_loveda.py', mIoU=30.0))   # an existing sheet
    update_table(xlsx, {'potsdam': {'potsdam': 80.78, 'loveda': 9.27},
                        'loveda': {'potsdam': 10.18, 'loveda': 64.56}})
    assert sheet(xlsx) == [['training set', 'Potsdam', 'LoveDA', 'mean mIoU'],
                           ['Potsdam', 80.78, 9.27, 9.27],
                           ['LoveDA', 10.18, 64.56, 10.18]]
    # a later run adds a column; measured cells are kept, means recomputed
    update_table(xlsx, {'loveda': {'openearthmap': 28.41}})
    rows = sheet(xlsx)
    assert rows[0] == ['training set', 'Potsdam', 'LoveDA', 'OpenEarthMap', 'mean mIoU']
    assert rows[2] == ['LoveDA', 10.18, 64.56, 28.41, round((10.18 + 28.41) / 2, 2)]
    assert rows[1][3] is None
    assert read_matrix(xlsx)['potsdam'] == {'potsdam': 80.78, 'loveda': 9.27}
    assert 'results' in load_workbook(xlsx).sheetnames          # other sheets kept


def test_unreadable_workbook_is_left_alone(tmp_path):
    xlsx = tmp_path / 'results.xlsx'
    xlsx.write_bytes(b'not a workbook')
    written = update_table(xlsx, {'potsdam': {'loveda': 1.0}})
    assert xlsx.read_bytes() == b'not a workbook' and written != xlsx
    assert sheet(written)[1] == ['Potsdam', 1.0, 1.0]


def test_cross_config_swaps_test_data_and_classes():
    tool = runpy.run_path(str(ROOT / 'tools' / 'hg_cross_eval.py'), run_name='hg_cross_test')
    assert tool['test_sets']() == ['potsdam', 'loveda', 'gid_large', 'globe230k', 'flair1',
                                   'openearthmap', 'landcover_ai']
    cfg = tool['cross_config'](ROOT / 'configs' / 'hg_rsovsseg' /
                               'hg_georsclip-vitl14-336_openearthmap.py', 'potsdam', 'x.pth',
                               {}, 'work')
    assert cfg.model.classes[0] == 'impervious surfaces' and cfg.model.clip_type == 'GeoRSCLIP'
    assert cfg.test_dataloader.dataset.type == 'PotsdamDataset' and cfg.load_from == 'x.pth'
    assert cfg.train_dataloader.dataset.type == 'OpenEarthMapDataset'
