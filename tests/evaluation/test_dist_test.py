"""dist_test.sh with 2 CPU processes (torchrun, gloo) gives the single-process metrics."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
import torch.distributed as dist
from conftest import run_launcher
from synthetic_data import cpu_only  # noqa: F401  (fixture)
from synthetic_data import CONFIGS, cli_options, make_synthetic_dataset, use_fixture_model

from segearth_ov.evaluation.results import read_rows
from segearth_ov.evaluation.run import evaluate, load_config

pytestmark = pytest.mark.usefixtures('cpu_only')

ROOT = CONFIGS.parent
BIN = Path(sys.executable).parent
TORCHRUN = shutil.which('torchrun', path=f'{BIN}{os.pathsep}{os.environ.get("PATH", "")}')


@pytest.mark.skipif(TORCHRUN is None, reason='torchrun is not installed beside this Python')
@pytest.mark.skipif(shutil.which('bash') is None, reason='dist_test.sh needs bash')
@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                    reason='this torch build has no gloo backend')
def test_two_cpu_processes_give_the_single_process_metrics(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = str(CONFIGS / 'cfg_udd5.py')
    cfg = load_config(config)
    make_synthetic_dataset(cfg, tmp_path, count=3)   # odd: the sampler pads one rank
    options = cli_options(cfg)

    single = load_config(config)
    use_fixture_model(single)
    metrics, _, _ = evaluate(single, config, results=None)

    env = dict(os.environ, PATH=f'{BIN}{os.pathsep}{os.environ.get("PATH", "")}',
               PORT='0',                  # torchrun binds free ports itself
               OMP_NUM_THREADS='1',
               CUDA_VISIBLE_DEVICES='')   # 2 CPU processes with gloo, also on a GPU machine
    proc = run_launcher(
        ['bash', str(ROOT / 'dist_test.sh'), config, '2', '--work-dir', 'dist',
         '--results', 'dist.xlsx', '--cfg-options', *options],
        cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert 'Distributed launcher: pytorch' in proc.stdout + proc.stderr
    rows = read_rows(tmp_path / 'dist.xlsx')
    assert len(rows) == 1                 # only rank 0 writes
    row = rows[0]
    assert row['images'] == 3
    assert row['aAcc'] == metrics['aAcc'] and row['mIoU'] == metrics['mIoU'] \
        and row['mAcc'] == metrics['mAcc']
    per_class = dict(item.split('=') for item in row['per-class IoU'].split('; '))
    for name, value in per_class.items():
        assert float(value) == pytest.approx(metrics[f'IoU.{name}'], abs=1e-9)
