"""The QGIS plugin's QGIS-free parts (qgis/segearth_ov_qgis/runner.py, arguments.py): finding
the SegEarth-OV environment, following a predictor's JSON lines, stopping it on Cancel,
its `error:` line on failure, and the presets it offers. No QGIS needed."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, load_script

runner = load_script('qgis/segearth_ov_qgis/runner.py')
arguments = load_script('qgis/segearth_ov_qgis/arguments.py')


def fake_predictor(tmp_path, body: str) -> list[str]:
    script = tmp_path / 'fake_predict.py'
    script.write_text('import json, sys, time\n'
                      'def ev(**k):\n    print(json.dumps(k), flush=True)\n' + body)
    return [sys.executable, str(script)]


def test_backbone_presets_are_the_projects():
    from segearth_ov.models.backbones.presets import PRESETS
    assert arguments.BACKBONES == [(c, v) for c in PRESETS for v in PRESETS[c]]


def test_environment_is_found_from_the_activated_virtualenv(tmp_path):
    # this test's environment (the project's venv): its console script
    venv = Path(sys.prefix)
    assert runner.find_predictor('', dict(PATH='/nonexistent', VIRTUAL_ENV=str(venv))) == \
        [str(venv / 'bin' / 'segearth-predict')]
    # an environment without the console script: its Python, if it imports segearth_ov
    fake = tmp_path / 'env'
    (fake / 'bin').mkdir(parents=True)
    (fake / 'bin' / 'python').symlink_to(sys.executable)
    env = dict(PATH='/nonexistent', VIRTUAL_ENV=str(fake), PYTHONPATH=str(ROOT))
    assert runner.find_predictor('', env) == [str(fake / 'bin' / 'python'), '-m',
                                              'segearth_ov.mapping.cli']
    # the plugin setting wins
    assert runner.find_predictor(str(venv / 'bin' / 'python'), dict(VIRTUAL_ENV=str(fake))) == \
        [str(venv / 'bin' / 'python'), '-m', 'segearth_ov.mapping.cli']
    assert runner.find_predictor(str(venv / 'bin' / 'segearth-predict'), {}) == \
        [str(venv / 'bin' / 'segearth-predict')]


def test_missing_environment_says_where_to_set_it(tmp_path):
    with pytest.raises(runner.PredictorNotFound, match='set its Python .* in Settings ▸ Options '
                       '▸ Processing ▸ Providers ▸ SegEarth-OV'):
        runner.find_predictor(str(tmp_path / 'nope' / 'python'), {})
    empty = tmp_path / 'venv'
    (empty / 'bin').mkdir(parents=True)
    (empty / 'bin' / 'python').symlink_to('/usr/bin/python3')   # a Python without SegEarth-OV
    env = dict(PATH='/nonexistent', VIRTUAL_ENV=str(empty))
    assert runner.candidates('', env)[0] == str(empty / 'bin' / 'python')
    # skipped; the next candidate, sys.prefix (this test's venv, with SegEarth-OV), is taken
    assert runner.find_predictor('', env) == [f'{sys.prefix}/bin/segearth-predict']
    with pytest.raises(runner.PredictorNotFound, match='no Python environment with SegEarth-OV '
                       'found: start QGIS from the activated environment'):
        runner.find_predictor('', env, prefixes=())


def test_progress_events_are_followed_and_text_is_passed_on(tmp_path):
    command = fake_predictor(tmp_path, (
        "ev(event='start'); ev(event='stage', stage='model')\n"
        "print('model built', file=sys.stderr, flush=True)\n"
        "for k in range(3): ev(event='progress', input='a.tif', file=1, files=1, done=k, total=2)\n"
        "ev(event='output', input='a.tif', outputs={'labels': 'a_labels.tif'}, crs=None, "
        "classes=[]); ev(event='end', status=0)\n"))
    seen, text = [], []
    outputs = runner.run(command, seen.append, text.append)
    assert [e['event'] for e in seen] == ['start', 'stage', 'progress', 'progress', 'progress',
                                          'output', 'end']
    assert [e['done'] for e in seen if e['event'] == 'progress'] == [0, 1, 2]
    assert outputs == [seen[5]]
    assert text == ['model built']


def test_cancel_stops_the_predictor_at_once(tmp_path):
    marker = tmp_path / 'finished'
    command = fake_predictor(tmp_path, (
        "ev(event='progress', input='a', file=1, files=1, done=0, total=100)\n"
        f"time.sleep(30); open({str(marker)!r}, 'w').close()\n"))
    seen = []
    t0 = time.monotonic()
    with pytest.raises(runner.Canceled, match='canceled: the SegEarth-OV predictor was stopped'):
        runner.run(command, seen.append, is_canceled=lambda: bool(seen))
    assert time.monotonic() - t0 < 10
    assert seen and not marker.exists()


def test_failure_raises_the_predictors_error_line(tmp_path):
    command = fake_predictor(tmp_path, (
        "ev(event='start')\n"
        "print('error: scene.tif: band 5 does not exist (the file has 3); use --bands 3,2,1', "
        "file=sys.stderr, flush=True)\n"
        "ev(event='error', message='error: scene.tif: band 5 does not exist (the file has 3); "
        "use --bands 3,2,1')\n"
        "ev(event='end', status=1); sys.exit(1)\n"))
    with pytest.raises(runner.PredictorFailed) as err:
        runner.run(command, lambda e: None)
    assert str(err.value) == ('the SegEarth-OV predictor failed (exit status 1):\n'
                              'error: scene.tif: band 5 does not exist (the file has 3); use '
                              '--bands 3,2,1')


def test_predictor_arguments():
    args = arguments.predictor_arguments(
        'a.tif', '/tmp/o', classes=' road;water,river ', backbone=('RemoteCLIP', 'ViT-B/32'),
        upsampler='none', bands='3,2,1', vector='gpkg', save_probs=True, extra='--gsd 1.5')
    assert args == ['a.tif', '--out', '/tmp/o', '--progress', 'json', '--no-overlay',
                    '--classes', 'road;water,river', '--clip-type', 'RemoteCLIP', '--vit-type',
                    'ViT-B/32', '--upsampler', 'none', '--bands', '3,2,1', '--vector', 'gpkg',
                    '--save-probs', '--gsd', '1.5']
    with pytest.raises(ValueError, match='give the class names'):
        arguments.predictor_arguments('a.tif', 'o', classes='a', class_file='c.txt')
    with pytest.raises(ValueError, match=r'polygons as \.shp: choose a GeoPackage'):
        arguments.vector_format('x.shp')
