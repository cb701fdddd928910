"""eval_all.py: runs the configs whose data exists, says which were skipped and why, and
writes the paper-style summary sheet."""
from __future__ import annotations


import pytest
from openpyxl import load_workbook
from synthetic_data import CONFIGS, cli_options, cpu_only, make_synthetic_dataset  # noqa: F401

from segearth_ov.evaluation.results import read_rows
from segearth_ov.evaluation.run import load_config
from conftest import load_script

pytestmark = pytest.mark.usefixtures('cpu_only')


def eval_all_main():
    return load_script('eval_all.py').main


def test_sar_group_runs_what_exists_and_reports_the_rest(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for name in ('whu_sar', 'yeseg_sar'):
        cfg = load_config(str(CONFIGS / f'cfg_{name}.py'))
        make_synthetic_dataset(cfg, tmp_path)
    # a data folder that exists but lacks its split list is skipped too, naming the file
    (tmp_path / 'data/FUSAR-Map/sar').mkdir(parents=True)
    (tmp_path / 'data/FUSAR-Map/label').mkdir(parents=True)
    options = cli_options(cfg)
    assert eval_all_main()(['--group', 'sar', '--cfg-options', *options]) == 0
    out = capsys.readouterr().out
    assert '2 config(s) to run, 6 skipped' in out
    assert ('SKIP cfg_ddhrnet_korea_sar: data not found: data/DDHRNet_DATA/korea/no_cloud '
            '(prepare it with tools/dataset_converters/ddhrnet_korea_sar.py, '
            'docs/evaluation.md)\n') in out
    assert ('SKIP cfg_fusar_sar: data not found: data/FUSAR-Map/test.txt (prepare it with '
            'tools/dataset_converters/fusar_sar.py, docs/evaluation.md)\n') in out
    assert 'done: 2, skipped: 6, failed: 0' in out
    rows = read_rows(tmp_path / 'results.xlsx')
    assert sorted(r['dataset'] for r in rows) == ['WHU-SAR', 'YESeg-SAR']
    assert all(r['clip_type'] == 'AlignEarth' and r['model_type'] == 'SCLIP' for r in rows)
    summary = list(load_workbook(tmp_path / 'results.xlsx')['summary'].values)
    assert summary[0] == ('method', 'backbone', 'WHU-SAR', 'YESeg-SAR', 'Average SAR')
    # the backbone names the weights that made the numbers (the fixture CLIP and SimFeatUp)
    import hashlib

    from conftest import JBU_CKPT, TINY_PT

    def short(path):
        return f'{path.name}@{hashlib.sha256(path.read_bytes()).hexdigest()[:8]}'
    assert summary[1][:2] == ('SCLIP', f'AlignEarth ViT-B/16 ({short(TINY_PT)} · SimFeatUp '
                                       f"{short(JBU_CKPT['jbu_one'])})")
    assert all(r['weights_sha256'] == hashlib.sha256(TINY_PT.read_bytes()).hexdigest()
               for r in rows)
    assert summary[1][4] == pytest.approx((summary[1][2] + summary[1][3]) / 2, abs=0.006)
    assert (tmp_path / 'work_dirs/eval_all/cfg_whu_sar/results.txt').is_file()


def test_dry_run_and_explicit_configs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(str(CONFIGS / 'cfg_loveda.py'))
    make_synthetic_dataset(cfg, tmp_path)
    assert eval_all_main()(['--configs', 'loveda', 'cfg_udd5', str(CONFIGS / 'cfg_vdd.py'),
                            'nonexistent', '--dry-run']) == 0
    out = capsys.readouterr().out
    assert '1 config(s) to run, 3 skipped' in out
    assert 'RUN  cfg_loveda' in out
    assert 'SKIP cfg_udd5: data not found: data/UDD5/val' in out
    assert 'SKIP cfg_nonexistent: no such config' in out
    assert not (tmp_path / 'results.xlsx').exists()


def test_configs_with_the_same_model_settings_reuse_the_model(tmp_path, monkeypatch, capsys):
    """DeepGlobe, Massachusetts and SpaceNet have the same classes and settings; CHN6-CUG
    differs only in prob_thd (0.8): 4 runs, 1 model built, its classes set once more."""
    monkeypatch.chdir(tmp_path)
    names = ['chn6-cug', 'deepglobe_road', 'massachusetts_road', 'spacenet_road']
    for name in names:
        cfg = load_config(str(CONFIGS / f'cfg_{name}.py'))
        make_synthetic_dataset(cfg, tmp_path)
    assert eval_all_main()(['--configs', *names, '--cfg-options', *cli_options(cfg)]) == 0
    out = capsys.readouterr().out
    assert out.count('reusing its model') == 2
    assert out.count('reusing its image side with the new classes') == 1
    rows = read_rows(tmp_path / 'results.xlsx')
    assert [r['dataset'] for r in rows] == ['CHN6-CUG', 'DeepGlobe', 'Massachusetts', 'SpaceNet']
    assert len({r['mIoU'] for r in rows[1:]}) == 1   # same synthetic images, same model


def test_nothing_to_run_is_said_once(tmp_path, monkeypatch, capsys):
    """No data on the machine: the skip list once, one line that nothing runs, exit 1. Was:
    an empty progress bar, "done: 0" and the skip list a second time, exit 0."""
    monkeypatch.chdir(tmp_path)
    assert eval_all_main()(['--configs', 'udd5', 'vdd']) == 1
    captured = capsys.readouterr()
    assert captured.out.count('cfg_udd5') == 1 and 'eval_all' not in captured.out + captured.err
    assert 'done:' not in captured.out and '0 config(s) to run, 2 skipped' in captured.out
    assert captured.err.strip() == ('nothing to run: no selected config has its data on this '
                                    'machine (the SKIP lines above say how to prepare each)')
