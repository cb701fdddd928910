"""eval.py as a user types it, when something is wrong: one line naming the problem and a fix
the tool has, before any model is loaded, and nothing recorded as if it had run.

Typo'd --cfg-options keys (top level and nested), a missing data folder (the converter to
run), a custom set of .tif images read with the default .png suffix, and a results folder
whose lock another process holds.
"""
from __future__ import annotations

import os
import subprocess
import sys

import cv2
import pytest
from synthetic_data import CONFIGS, cli_options, make_synthetic_dataset, write  # noqa: F401

from segearth_ov.evaluation.results import read_rows
from segearth_ov.evaluation.run import load_config
from conftest import load_script

ROOT = CONFIGS.parent
UDD5 = str(CONFIGS / 'cfg_udd5.py')


def eval_cli(cwd, *args, env=None, timeout=300):
    """`python eval.py ARGS` in `cwd`, on the CPU, offline."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='',
               HF_HUB_OFFLINE='1', **(env or {}))
    return subprocess.run([sys.executable, str(ROOT / 'eval.py'), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def one_error_line(proc) -> str:
    """The error of a refused run: exit 2, no traceback, one line on stderr."""
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert 'Traceback' not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith('error: '), proc.stderr
    return lines[0]


@pytest.fixture
def udd5(tmp_path):
    """A synthetic UDD5 under tmp_path/data (the config's own layout) and the options that
    run it with the fixture model."""
    cfg = load_config(UDD5)
    make_synthetic_dataset(cfg, tmp_path)
    return cli_options(cfg)


def in_process(cwd, monkeypatch, capsys, *args):
    """eval.py's main in this process (the cases beyond the issue's; saves a Python start)."""
    monkeypatch.chdir(cwd)
    rc = load_script('eval.py').main(list(args))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, rc, out, err)


# ---------------------------------------------------------------- --cfg-options keys
CASES = {
    # a typo at the top level used to be ignored, and the row said CLIP was scored
    'modle.clip_type=GeoRSCLIP': "the config has no key 'modle'; did you mean 'model'?",
    # one level down: a TypeError traceback from inside the model's construction
    'model.clip_typ=GeoRSCLIP':
        "model (SegEarthSegmentation) has no key 'clip_typ'; did you mean 'clip_type'",
    'test_dataloader.datset.data_root=x':
        "test_dataloader has no key 'datset'; did you mean 'dataset'?",
    # below a plain value: mmengine's "cannot inherit from base" TypeError
    'model.clip_type.name=GeoRSCLIP': "model.clip_type is a value ('CLIP')",
}


@pytest.mark.parametrize('option', list(CASES))
def test_unknown_cfg_options_keys_are_refused_before_anything_runs(tmp_path, udd5, option,
                                                                   monkeypatch, capsys):
    args = ('--config', UDD5, '--cfg-options', *udd5, option)
    if option in ('modle.clip_type=GeoRSCLIP', 'model.clip_typ=GeoRSCLIP'):   # the issue's
        proc = eval_cli(tmp_path, *args)
    else:
        proc = in_process(tmp_path, monkeypatch, capsys, *args)
    line = one_error_line(proc)
    assert f'--cfg-options {option.split("=")[0]}: ' in line and CASES[option] in line
    assert not (tmp_path / 'results.xlsx').exists()
    assert not (tmp_path / 'work_dirs').exists()       # no Runner was made


def test_keys_the_docs_use_are_accepted():
    """Every --cfg-options key of README.md, docs/evaluation.md and the configs' comments
    that applies to an evaluation config (new keys the classes take included)."""
    from segearth_ov.evaluation.cfg_options import ConfigKeyError, check_cfg_options
    cfg = load_config(str(CONFIGS / 'cfg_custom.py'))
    check_cfg_options(cfg, {
        'model.clip_type': 'GeoRSCLIP', 'model.vit_type': 'ViT-B/32',
        'model.model_type': 'ClearCLIP', 'model.pretrained': 'my_finetune.pt',
        'model.quick_gelu': True, 'model.feature_up': False, 'model.classes': ['a', 'b'],
        'model.feature_up_cfg.model_path': 'x.ckpt', 'model.slide_crop': 0,
        'model.prob_thd': 0.3, 'model.bg_idx': 0, 'model.name_path': 'data/mine/classes.txt',
        'test_dataloader.dataset.img_suffix': '.tif', 'test_dataloader.num_workers': 0,
        'test_dataloader.dataset.seg_map_suffix': '.tif',
        'test_dataloader.dataset.ignore_index': 0, 'test_dataloader.pin_memory': True,
        'test_dataloader.dataset.reduce_zero_label': True,
        'test_dataloader.dataset.data_root': 'data/mine',
        'test_dataloader.dataset.ann_file': 'val.txt',
        'test_dataloader.dataset.pipeline.1.scale': (64, 64),
        'load_from': 'work_dirs/x/iter_80000.pth', 'randomness': {'seed': 0},
        'env_cfg.dist_cfg.backend': 'gloo'})
    with pytest.raises(ConfigKeyError, match=r'pipeline is a list of 4 entries, indexed 0..3'):
        check_cfg_options(cfg, {'test_dataloader.dataset.pipeline.7.scale': (64, 64)})


def test_eval_all_refuses_a_typo_once(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rc = load_script('eval_all.py').main(['--configs', 'udd5', 'loveda', '--dry-run',
                      '--cfg-options', 'model.vit_typ=ViT-B/32'])
    line = one_error_line(subprocess.CompletedProcess([], rc, '', capsys.readouterr().err))
    assert "cfg_udd5.py: --cfg-options model.vit_typ: " in line and "'vit_type'" in line


# ---------------------------------------------------------------- data before weights
def test_missing_data_names_the_converter_before_the_weights(tmp_path):
    # weights that do not exist either: the data is what is said (it is checked first)
    proc = eval_cli(tmp_path, '--config', UDD5, '--cfg-options', 'model.pretrained=/no/such.pt')
    line = one_error_line(proc)
    assert line == ('error: data not found: data/UDD5/val (prepare it with '
                    'tools/dataset_converters/udd5.py, docs/evaluation.md)')
    assert (ROOT / 'tools' / 'dataset_converters' / 'udd5.py').is_file()


def test_custom_set_of_tif_images_names_the_suffix_and_the_option(tmp_path, monkeypatch,
                                                                  capsys):
    """The normal remote-sensing case: .tif images, the config's default '.png' suffix.
    Was "ValueError: need at least one array to concatenate" after the model loaded."""
    cfg = load_config(str(CONFIGS / 'cfg_custom.py'))
    make_synthetic_dataset(cfg, tmp_path)
    images = tmp_path / 'data' / 'custom' / 'images'
    for png in images.glob('*.png'):              # the same images as real TIFFs
        write(png.with_suffix('.tif'), cv2.imread(str(png), cv2.IMREAD_UNCHANGED))
        png.unlink()
    proc = eval_cli(tmp_path, '--config', str(CONFIGS / 'cfg_custom.py'), '--cfg-options',
                    *cli_options(cfg))
    line = one_error_line(proc)
    assert ("no images ending in '.png' in data/custom/images (it holds 2 .tif files): set "
            'the image suffix, --cfg-options test_dataloader.dataset.img_suffix=.tif') in line
    # the advice works: with it the run goes on (to the labels, which are still .png)
    fixed = in_process(tmp_path, monkeypatch, capsys, '--config', str(CONFIGS / 'cfg_custom.py'),
                       '--no-results', '--cfg-options', *cli_options(cfg),
                       'test_dataloader.dataset.img_suffix=.tif')
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    assert 'aAcc' in fixed.stdout


# ---------------------------------------------------------------- the workbook lock
def test_a_held_lock_is_named_and_given_up_after_the_timeout(tmp_path, udd5):
    """Another process holds the results folder's lock (here: this test, through the same
    lock): eval.py says what it waits for, the holder's PID, gives up after --lock-timeout,
    and writes its row beside the workbook instead of hanging forever."""
    from segearth_ov.evaluation.results import _folder_lock
    results = tmp_path / 'res'
    results.mkdir()
    with _folder_lock(results):
        proc = eval_cli(tmp_path, '--config', UDD5, '--results', str(results / 'results.xlsx'),
                        '--lock-timeout', '1', '--cfg-options', *udd5)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (f'waiting for the lock on {results} (held by PID {os.getpid()}; another run '
            'writing its results there); giving up after 1 s') in proc.stderr
    assert (f'could not add the results to {results / "results.xlsx"}: the lock on {results} '
            f'(held by PID {os.getpid()}) was not released within 1 s') in proc.stderr
    assert not (results / 'results.xlsx').exists()
    beside = list(results.glob('results.*.xlsx'))
    assert len(beside) == 1 and [r['dataset'] for r in read_rows(beside[0])] == ['UDD5']
    assert not (results / '.results-lock.pid').exists()     # the holder removed its record
