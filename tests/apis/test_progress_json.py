"""tools/predict.py --progress json: JSON lines on stdout (the QGIS plugin follows them), the
human text on stderr, every `error:` line also as an event, and the exit status at the end."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import rasterio
from affine import Affine

from conftest import JBU_CKPT, OEM_TILE, ROOT, TINY_CFG, TINY_PT

FIXTURE = ['--pretrained', str(TINY_PT), '--model-cfg', str(TINY_CFG), '--upsampler-ckpt',
           str(JBU_CKPT['jbu_one']), '--device', 'cpu']
CLASSES = 'background;building,roof,house;road;tree,forest;water,river'

pytestmark = pytest.mark.usefixtures('one_thread')


def events_of(stdout: str) -> list[dict]:
    lines = stdout.splitlines()
    events = [json.loads(line) for line in lines]      # every line is JSON, nothing else
    assert all(isinstance(e, dict) and 'event' in e for e in events)
    return events


def test_json_progress_of_a_scene_through_the_command_line(tmp_path):
    out = tmp_path / 'out'
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, str(ROOT / 'tools' / 'predict.py'), str(OEM_TILE), '--classes', CLASSES,
         *FIXTURE, '--threads', '1', '--gsd', '1.25', '--tile', '224', '--vector', 'gpkg',
         '--no-overlay', '--progress', 'json', '--out', str(out)],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    events = events_of(proc.stdout)
    kinds = [e['event'] for e in events]
    assert kinds[:2] == ['start', 'stage'] and events[1]['stage'] == 'model'
    assert kinds[-2:] == ['output', 'end'] and events[-1]['status'] == 0
    segment = events[2]
    assert segment == dict(event='stage', stage='segment', input=str(OEM_TILE), file=1, files=1)
    progress = [e for e in events if e['event'] == 'progress']
    summary = json.loads((out / 'oem_koeln_50_summary.json').read_text())
    tiles = summary['plan']['tiles']
    assert tiles == 9       # 1000 px of 0.5 m seen at 1.25 m: 400 px, 3 × 3 slide windows
    assert [(e['done'], e['total']) for e in progress] == [(k, tiles) for k in range(tiles + 1)]
    assert all(e['input'] == str(OEM_TILE) and e['file'] == 1 and e['files'] == 1
               for e in progress)
    output = events[-2]
    assert output['outputs'] == {
        'labels': str(out / 'oem_koeln_50_labels.tif'),
        'summary': str(out / 'oem_koeln_50_summary.json'),
        'classes': str(out / 'oem_koeln_50_classes.txt'),
        'polygons': str(out / 'oem_koeln_50_polygons.gpkg')}
    assert all(os.path.isfile(p) for p in output['outputs'].values())
    assert output['crs'] == summary['crs'] == 'EPSG:25832'
    assert [(c['name'], c['pixels']) for c in output['classes']] == \
        [(c['name'], c['pixels']) for c in summary['classes']]
    assert sum(c['pixels'] for c in output['classes']) == 1000 * 1000
    # the text a person reads went to stderr, without progress bars
    assert 'model built in' in proc.stderr and 'wrote ' in proc.stderr
    assert 'tile/s' not in proc.stderr and 'it/s' not in proc.stderr


def test_json_progress_names_errors_and_the_exit_status(tmp_path, capsys):
    from segearth_ov.mapping.cli import main
    img = tmp_path / 'one.tif'
    with rasterio.open(img, 'w', driver='GTiff', height=40, width=40, count=3, dtype='uint8',
                       crs='EPSG:32632', transform=Affine(1, 0, 5e5, 0, -1, 5.6e6)) as dst:
        dst.write(np.full((3, 40, 40), 100, np.uint8))
    # before the model: an empty class list (exit status 2)
    assert main([str(img), '--classes', ';', '--progress', 'json']) == 2
    cap = capsys.readouterr()
    events = events_of(cap.out)
    message = ('error: the class list is empty: give classes separated by ";" and synonyms by '
               '",", e.g. "building,roof,house;road;water,river"')
    assert events == [dict(event='start'), dict(event='error', message=message),
                      dict(event='end', status=2)]
    assert cap.err.strip() == message
    # an input that fails after the model is built (a band it lacks): exit status 1
    rc = main([str(img), '--classes', 'a;b', *FIXTURE, '--bands', '5', '--progress', 'json',
               '--out', str(tmp_path / 'o')])
    cap = capsys.readouterr()
    events = events_of(cap.out)
    assert rc == 1
    assert [e['event'] for e in events] == ['start', 'stage', 'stage', 'error', 'end']
    assert events[3]['message'].startswith(f'error: {img}: ') and 'band' in events[3]['message']
    assert events[-1] == dict(event='end', status=1)
    assert '1 of 1 input(s) failed' in cap.err


def test_region_mode_refuses_json_progress(tmp_path, capsys):
    """Region mode reports through its manifest: --progress json would be ignored there."""
    from segearth_ov.mapping.entry import main
    rc = main([str(OEM_TILE), '--classes', 'a;b', '--region', '--progress', 'json', '--out',
               str(tmp_path / 'o')])
    assert rc == 2
    assert capsys.readouterr().err.strip() == (
        'error: --progress json is for one scene at a time; region mode records its progress '
        'in the manifest: leave --progress out')
    assert not (tmp_path / 'o').exists()
