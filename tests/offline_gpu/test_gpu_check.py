"""tools/gpu_check.sh, the GPU check for an offline GPU machine: its report, its errors and
the mmcv stand-in it installs (docs/gpus.md, "Offline GPU machine"). The whole check is
rehearsed by `tools/gpu_check.sh --dry-run` (minutes: not part of the suite)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import ROOT, load_script

gpu_check = load_script('tools/gpu_check_report.py')

JUNIT = '''<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="tests.gpu.test_gpu_run" name="test_a" time="1.5"/>
<testcase classname="tests.gpu.test_gpu_run" name="test_b" time="2.0">
  <failure message="assert 0.97 &gt;= 0.99">trace</failure></testcase>
<testcase classname="tests.models.test_parity" name="test_c" time="0.25">
  <skipped message="2 GPUs"/></testcase>
</testsuite></testsuites>'''


def write_raw(raw):
    raw.mkdir()
    (raw / 'steps.tsv').write_text('install\tok\t4\nenvironment\tok\t9\ntests\tfailed 1\t80\n'
                                   'precision\tok\t20\nbenchmark_fp16_448\tok\t30\n'
                                   'benchmark_fp32_448\ttimeout\t50\n')
    (raw / 'tests.txt').write_text('1 failed, 1 passed, 1 skipped\n')
    env = dict(python='3.12.3', torch='2.11.0+cu130', torch_cuda='13.0', gpu='NVIDIA H100')
    (raw / 'environment.txt').write_text('a warning\nenvironment_json ' + json.dumps(env) + '\n')
    (raw / 'precision.txt').write_text(
        'segearth_optical_fp32_pred_agreement 1.0000\nfp32_min_pred_agreement 1.0000\n'
        'fp32_seconds 3.1\nsegearth_optical_fp16_pred_agreement 0.9995\n'
        'segearth_optical_fp16_max_prob_drift 0.0010\nfp16_min_pred_agreement 0.9995\n'
        'fp16_seconds 2.0\n')
    (raw / 'benchmark_fp16_448.txt').write_text(
        'device cuda NVIDIA H100 80GB HBM3\nmatmul_gflops 51000\nmatmul_fp16_gflops 385000\n'
        'image_gflop 38.5\nimage_floor_seconds 0.000755\nimage_seconds 0.0123\n'
        'image_floor_ratio 16.29\nimages_per_second 81.3\npeak_rss_mb 2900\npeak_cuda_mb 1234\n')
    (raw / 'benchmark_fp32_448.txt').write_text('device cuda NVIDIA H100 80GB HBM3\n'
                                                'matmul_gflops 51000\n')


def test_report_adds_the_fp16_floor_and_fails_on_a_failed_test_or_step(tmp_path):
    write_raw(tmp_path / 'raw')
    (tmp_path / 'tests.xml').write_text(JUNIT)
    rc = gpu_check.main(['report', '--raw', str(tmp_path / 'raw'), '--out', str(tmp_path / 'out'),
                         '--junit', str(tmp_path / 'tests.xml'), '--seconds', '301'])
    assert rc == 1
    data = json.loads((tmp_path / 'out' / 'report.json').read_text())
    assert data['ok'] is False and data['seconds'] == 301
    assert data['environment']['gpu'] == 'NVIDIA H100'
    assert data['tests'] == dict(ran=True, passed=1, failed=1, skipped=1, seconds=3.8, failures=[
        dict(test='tests.gpu.test_gpu_run::test_b', message='assert 0.97 >= 0.99')])
    assert data['precision']['fp16']['min_pred_agreement'] == 0.9995
    assert data['precision']['fp16']['scenarios']['segearth_optical'] == dict(
        pred_agreement=0.9995, max_prob_drift=0.001)
    fp16, fp32 = data['benchmark']
    # the fp16 floor: 38.5 GFLOP at 385,000 GFLOP/s = 0.1 ms; 12.3 ms is 123 times that
    assert fp16['fp16_floor_seconds'] == 0.0001 and fp16['fp16_floor_ratio'] == 123.0
    assert (fp16['precision'], fp16['size'], fp16['images_per_second'],
            fp16['peak_cuda_mb']) == ('fp16', 448, 81.3, 1234)
    assert fp32 == dict(precision='fp32', size=448, matmul_gflops=51000.0,
                        device='cuda NVIDIA H100 80GB HBM3')
    timed_out = [s for s in data['steps'] if s['status'] != 'ok']
    assert [s['name'] for s in timed_out] == ['tests', 'benchmark_fp32_448']
    assert timed_out[0]['output_tail'] == '1 failed, 1 passed, 1 skipped\n'
    md = (tmp_path / 'out' / 'report.md').read_text()
    assert md.startswith('# GPU check: FAILED\n\nNVIDIA H100; Python 3.12.3, torch 2.11.0+cu130')
    assert '| fp16 | 448 | 81.3 | 1234 | 51000 / 385000 | 16.29 | 123.00 |' in md
    assert '| fp32 | 448 | – | – | 51000 / – | – | – |' in md
    assert '- FAILED tests.gpu.test_gpu_run::test_b: assert 0.97 >= 0.99' in md


def test_report_passes_when_every_step_and_test_passed(tmp_path):
    write_raw(tmp_path / 'raw')
    steps = tmp_path / 'raw' / 'steps.tsv'
    steps.write_text(steps.read_text().replace('failed 1', 'ok').replace('timeout', 'ok'))
    (tmp_path / 'tests.xml').write_text(JUNIT.replace(
        '<failure message="assert 0.97 &gt;= 0.99">trace</failure>', ''))
    assert gpu_check.main(['report', '--raw', str(tmp_path / 'raw'), '--out', str(tmp_path),
                           '--junit', str(tmp_path / 'tests.xml')]) == 0
    assert (tmp_path / 'report.md').read_text().startswith('# GPU check: passed')


def run_check(*args, env=None):
    return subprocess.run(['bash', str(ROOT / 'tools' / 'gpu_check.sh'), *map(str, args)],
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, **(env or {})))


def test_check_without_its_bundle_or_with_another_pythons_says_how_to_make_it(tmp_path):
    proc = run_check()
    assert proc.returncode == 2
    assert proc.stderr == 'usage: bash tools/gpu_check.sh OUT_DIR | --dry-run [OUT_DIR]\n'
    proc = run_check(tmp_path / 'out', env=dict(GPU_BUNDLE=str(tmp_path / 'none'),
                                               PYTHON=sys.executable))
    assert proc.returncode == 2
    assert (f"error: no bundle at {tmp_path / 'none'}: run 'make gpu-bundle' where pip can "
            'download, and bring the folder along (or set GPU_BUNDLE)') in proc.stdout
    other = tmp_path / 'bundle'
    other.mkdir()
    (other / 'bundle.json').write_text(json.dumps(dict(python='3.9', wheels=[])))
    proc = run_check(tmp_path / 'out', env=dict(GPU_BUNDLE=str(other), PYTHON=sys.executable))
    have = '%d.%d' % sys.version_info[:2]
    assert proc.returncode == 2
    assert (f'error: {other} holds wheels for Python 3.9, {sys.executable} is Python {have}: '
            f"run 'bash tools/gpu_bundle.sh --python {have}' where pip can download") in proc.stdout
    assert (tmp_path / 'out' / 'gpu_check.log').is_file()


def test_mmcv_stand_in_lets_mmseg_load_and_names_the_fix_when_an_op_is_called():
    """mmcv-lite has no compiled ops; with tools/mmcv_ext_stub.py as mmcv._ext, mmseg's
    models import and an op, if one were called, fails naming the fix."""
    code = '''
import importlib.util, sys
spec = importlib.util.spec_from_file_location('mmcv._ext', sys.argv[1])
stub = importlib.util.module_from_spec(spec)
spec.loader.exec_module(stub)
sys.modules['mmcv._ext'] = stub            # in place of the compiled ops
import torch, mmcv.ops, mmseg.models
from mmcv.utils import ext_loader
assert ext_loader.load_ext('_ext', ['nms', 'roi_align_forward']) is stub
try:
    mmcv.ops.nms(torch.zeros(1, 4), torch.zeros(1), 0.5)
except RuntimeError as err:
    print(err)
'''
    proc = subprocess.run([sys.executable, '-c', code, str(ROOT / 'tools' / 'mmcv_ext_stub.py')],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == (
        "mmcv op 'nms' is not compiled here (mmcv-lite, installed by tools/gpu_check.sh): "
        'install mmcv with its ops (tools/install.sh)')
