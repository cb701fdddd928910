"""eval.py end to end on a synthetic dataset: rows appended to one results.xlsx, results.txt,
overlays, and a corrupt workbook left untouched."""
from __future__ import annotations


import pytest
from synthetic_data import CONFIGS, cli_options, cpu_only, make_synthetic_dataset  # noqa: F401

from segearth_ov.evaluation.results import read_rows
from segearth_ov.evaluation.run import load_config
from conftest import load_script

pytestmark = pytest.mark.usefixtures('cpu_only')

CONFIG = str(CONFIGS / 'cfg_udd5.py')


def eval_main():
    return load_script('eval.py').main


@pytest.fixture
def dataset(tmp_path, monkeypatch):
    """A synthetic UDD5 in tmp_path/data/UDD5/val, the working directory."""
    monkeypatch.chdir(tmp_path)
    cfg = load_config(CONFIG)
    make_synthetic_dataset(cfg, tmp_path)
    return cli_options(cfg)


def run(options, *args):
    return eval_main()(['--config', CONFIG, *args, '--cfg-options', *options])


def test_two_runs_append_two_rows_to_one_workbook(dataset, tmp_path):
    assert run(dataset, '--work-dir', 'w1') == 0
    assert run(dataset, '--work-dir', 'w2', '--show-dir', 'overlays', '--tag', 'second',
               '--results', 'results.xlsx') == 0
    rows = read_rows(tmp_path / 'results.xlsx')   # the default: results.xlsx in the cwd
    assert len(rows) == 2
    assert [r['tag'] for r in rows] == [None, 'second']   # '' is stored as an empty cell
    for r in rows:
        assert r['dataset'] == 'UDD5' and r['images'] == 2 and r['config'] == CONFIG
        assert (r['clip_type'], r['vit_type'], r['model_type']) == ('CLIP', 'ViT-B/16',
                                                                    'SegEarth')
        assert 0 <= r['mIoU'] <= 100 and r['per-class IoU'].startswith('vegetation=')
    assert rows[0]['mIoU'] == rows[1]['mIoU']
    text = (tmp_path / 'w1' / 'results.txt').read_text()
    assert f"mIoU: {rows[0]['mIoU']:.2f}" in text
    assert sorted(p.name for p in (tmp_path / 'overlays').iterdir()) == ['tile_0.png',
                                                                         'tile_1.png']


def test_corrupt_workbook_keeps_its_bytes_and_the_row_lands_beside_it(dataset, tmp_path):
    corrupt = tmp_path / 'results.xlsx'
    corrupt.write_bytes(b'PK\x03\x04 truncated')
    assert run(dataset, '--work-dir', 'w', '--results', str(corrupt)) == 0
    assert corrupt.read_bytes() == b'PK\x03\x04 truncated'
    beside = [p for p in tmp_path.glob('results.*.xlsx')]
    assert len(beside) == 1
    assert [r['dataset'] for r in read_rows(beside[0])] == ['UDD5']
