"""Two machines, simulated on this one (docs/region.md, "two machines"): dist_predict.sh,
dist_test.sh and dist_train.sh started as NNODES=2 NODE_RANK=0|1 MASTER_ADDR=127.0.0.1, one
CPU process (gloo) per node (tests/two_nodes.py).

Each script: the two nodes' outputs equal one launcher's byte for byte; a node that goes
down mid-run (its launcher and worker SIGKILLed at a known step) and a restart of both
completes, reusing what was finished; a node started with other options or data is refused
on both, naming the difference. Tiny models, a few images.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
import torch.distributed as dist
from affine import Affine

from conftest import JBU_CKPT, ROOT, TINY_CFG, TINY_PT, run_launcher
from two_nodes import run_two_nodes

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                                reason='this torch build has no gloo backend')


def environment(*paths) -> dict:
    """CPU processes with one thread each (also on a GPU machine), the checkout first."""
    return dict(os.environ, PATH=f'{BIN}{os.pathsep}{os.environ.get("PATH", "")}',
                OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='',
                PYTHONPATH=os.pathsep.join([*map(str, paths), str(ROOT)]))


def single(cmd, env, cwd=None):
    """The same script as one launcher on one machine (torchrun binds free ports: PORT=0)."""
    proc = run_launcher([str(c) for c in cmd], env=dict(env, PORT='0'), cwd=cwd, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


def both_ok(nodes):
    for k, node in enumerate(nodes):
        assert node.returncode == 0, f'node {k}:\n' + node.log[-4000:]


def crashed(nodes):
    """Node 1 went down (SIGKILL) and node 0 stopped with an error by itself."""
    assert nodes[1].returncode == -9, nodes[1].log[-3000:]
    assert nodes[0].returncode not in (0, None), nodes[0].log[-3000:]


# ------------------------------------------------------------------------ dist_predict.sh
SIZES = [(120, 150), (100, 130), (90, 120), (80, 110), (70, 100), (60, 90)]


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    folder = tmp_path_factory.mktemp('scenes')
    rng = np.random.default_rng(0)
    for k, (h, w) in enumerate(SIZES):
        with rasterio.open(folder / f'scene{k}.tif', 'w', driver='GTiff', height=h, width=w,
                           count=3, dtype='uint8', crs='EPSG:32632',
                           transform=Affine(0.5, 0, 500000 + 80 * k, 0, -0.5, 5600000)) as dst:
            dst.write(rng.integers(1, 255, (3, h, w), dtype=np.uint8))
    return folder


def predict_cmd(scenes, out, classes='water,river;field;town,building'):
    return ['bash', ROOT / 'dist_predict.sh', '1', scenes, '--classes', classes,
            '--pretrained', TINY_PT, '--model-cfg', TINY_CFG, '--upsampler-ckpt',
            JBU_CKPT['jbu_one'], '--device', 'cpu', '--quiet', '--out', out]


def labels(out: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(out.glob('*_labels.tif'))}


@pytest.fixture(scope='module')
def predicted_alone(scenes, tmp_path_factory):
    out = tmp_path_factory.mktemp('alone') / 'out'
    single(predict_cmd(scenes, out), environment())
    assert len(labels(out)) == len(SIZES)
    return labels(out)


def test_dist_predict_on_two_nodes_equals_one_launcher(scenes, predicted_alone, tmp_path):
    nodes = run_two_nodes(predict_cmd(scenes, tmp_path / 'out'), environment(), tmp_path / 'logs')
    both_ok(nodes)
    assert labels(tmp_path / 'out') == predicted_alone          # byte-identical class maps
    assert 'rank 1:' in nodes[0].log                            # node 1's rank did its share


def test_dist_predict_node_down_then_both_restarted(scenes, predicted_alone, tmp_path):
    out = tmp_path / 'out'
    crashed(run_two_nodes(predict_cmd(scenes, out), environment(), tmp_path / 'logs',
                          crash='region:1'))
    assert not (out / 'region_manifest.json').exists()
    records = [p for p in (out / '.region' / 'units').glob('*.json') if not p.name.startswith('.')]
    assert records                                              # finished before the crash
    nodes = run_two_nodes(predict_cmd(scenes, out), environment(), tmp_path / 'logs2')
    both_ok(nodes)
    assert 'done by an earlier run' in nodes[0].log + nodes[1].log
    assert labels(out) == predicted_alone


def per_node(tmp_path, first, second) -> list:
    """One command line that runs `first` on node 0 and `second` on node 1."""
    import shlex
    script = tmp_path / 'node.sh'
    script.write_text('if [ "$NODE_RANK" = 1 ]; then exec ' + shlex.join(map(str, second))
                      + '; else exec ' + shlex.join(map(str, first)) + '; fi\n')
    return ['bash', script]


def refused(nodes, message):
    """Both nodes stop with an error, one of them printing `message`."""
    assert [n.returncode != 0 for n in nodes] == [True, True], nodes[0].log[-3000:]
    text = nodes[0].log + nodes[1].log
    assert message in text, text[-4000:]


def test_dist_predict_node_with_other_options_is_refused(scenes, tmp_path):
    out = tmp_path / 'out'
    cmd = per_node(tmp_path, predict_cmd(scenes, out),
                   predict_cmd(scenes, out, classes='water;field;town'))
    refused(run_two_nodes(cmd, environment(), tmp_path / 'logs'),
            "error: node 1 (rank 1) was started with other options or data than node 0 "
            "(rank 0): --classes is 'water;field;town' on node 1, "
            "'water,river;field;town,building' on node 0. Start the same command, with the "
            "same data, on every node")
    assert not list(out.glob('*_labels.tif'))


# ------------------------------------------------------------------------ dist_test.sh
def _synthetic():
    sys.path.insert(0, str(ROOT / 'tests'))
    try:
        import synthetic_data
    finally:
        sys.path.remove(str(ROOT / 'tests'))
    return synthetic_data


@pytest.fixture(scope='module')
def udd5(tmp_path_factory):
    """cfg_udd5.py's layout with 3 synthetic images (odd: the sampler pads one rank) under
    `base`, and the --cfg-options that run it with the fixture model."""
    sd = _synthetic()
    from segearth_ov.evaluation.run import load_config
    base = tmp_path_factory.mktemp('udd5')
    config = str(sd.CONFIGS / 'cfg_udd5.py')
    cfg = load_config(config)
    sd.make_synthetic_dataset(cfg, base, count=3)
    return base, config, sd.cli_options(cfg)


def eval_cmd(config, options, name):
    return ['bash', ROOT / 'dist_test.sh', config, '1', '--work-dir', f'{name}_work',
            '--results', f'{name}.xlsx', '--show-dir', f'{name}_show', '--cfg-options',
            *options]


def eval_outputs(base: Path, name: str):
    """The metrics row (no timings) and every overlay's bytes."""
    from segearth_ov.evaluation.results import read_rows
    rows = read_rows(base / f'{name}.xlsx')
    assert len(rows) == 1                 # only rank 0 writes
    metrics = {k: rows[0][k] for k in ('images', 'aAcc', 'mIoU', 'mAcc', 'per-class IoU')}
    shows = {p.relative_to(base / f'{name}_show').as_posix(): p.read_bytes()
             for p in sorted((base / f'{name}_show').rglob('*')) if p.is_file()}
    return metrics, shows


@pytest.fixture(scope='module')
def tested_alone(udd5):
    base, config, options = udd5
    single(eval_cmd(config, options, 'alone'), environment(), cwd=base)
    metrics, shows = eval_outputs(base, 'alone')
    assert metrics['images'] == 3 and len(shows) == 3
    return metrics, shows


def test_dist_test_on_two_nodes_equals_one_launcher(udd5, tested_alone, tmp_path):
    base, config, options = udd5
    nodes = run_two_nodes(eval_cmd(config, options, 'two'), environment(), tmp_path,
                          cwd=(base, base))
    both_ok(nodes)
    assert eval_outputs(base, 'two') == tested_alone


def test_dist_test_node_down_then_both_restarted(udd5, tested_alone, tmp_path):
    base, config, options = udd5
    cmd = eval_cmd(config, options, 'again')
    crashed(run_two_nodes(cmd, environment(), tmp_path / 'a', cwd=(base, base), crash='test:1'))
    assert not (base / 'again.xlsx').exists()
    both_ok(run_two_nodes(cmd, environment(), tmp_path / 'b', cwd=(base, base)))
    assert eval_outputs(base, 'again') == tested_alone


def test_dist_test_node_with_other_data_is_refused(udd5, tmp_path):
    """The same command on both nodes, but node 1's data folder lacks an image."""
    sd = _synthetic()
    from segearth_ov.evaluation.run import load_config
    base, config, options = udd5
    other = tmp_path / 'node1'
    cfg = load_config(config)
    sd.make_synthetic_dataset(cfg, other, count=2)
    cmd = eval_cmd(config, options, 'refused')
    nodes = run_two_nodes(cmd, environment(), tmp_path / 'logs', cwd=(base, other))
    missing = sorted(p.relative_to(base).as_posix() for p in (base / 'data').rglob('tile_2*'))[0]
    refused(nodes, 'error: node 1 (rank 1) was started with other options or data than '
                   'node 0 (rank 0): data: node 1 has 4 files against 6, '
                   f'{missing} missing (and 1 more). Start the same command')
    assert not (base / 'refused.xlsx').exists()


# ------------------------------------------------------------------------ dist_train.sh
ITERS, EVERY = 4, 2


def _hg():
    sys.path.insert(0, str(ROOT / 'tests' / 'hg'))
    try:
        import hg_helpers
        import test_hg_training
    finally:
        sys.path.remove(str(ROOT / 'tests' / 'hg'))
    return hg_helpers, test_hg_training


@pytest.fixture(scope='module')
def hg_config(tmp_path_factory):
    """The HG-RSOVSSeg test config (tiny CLIP, 64² shapes) with its data at the relative
    path data/: each node reads the data of its working directory."""
    helpers, hg = _hg()
    base = tmp_path_factory.mktemp('hg')
    helpers.write_shapes_dataset(base / 'data', n_images=8, size=64)
    config = base / 'hg_shapes.py'
    config.write_text(hg.CONFIG.format(
        base=str(ROOT / 'configs' / 'hg_rsovsseg' / '_base_' / 'hg_runtime.py'),
        pt=str(TINY_PT), cfg=str(TINY_CFG), classes='data/classes.txt', root='data',
        iters=ITERS, every=EVERY))
    return base, config


def train_cmd(config, work, *extra):
    return ['bash', ROOT / 'dist_train.sh', config, '1', '--work-dir', work, *extra]


def weights(work: Path, it: int = ITERS) -> dict:
    _, hg = _hg()
    return hg.load_state(work / f'iter_{it}.pth')['state_dict']


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope='module')
def trained_alone(hg_config):
    """Two processes on one launcher (one machine): the world two nodes make."""
    base, config = hg_config
    cmd = ['bash', ROOT / 'dist_train.sh', config, '2', '--work-dir', base / 'alone']
    single(cmd, environment(ROOT / 'tests' / 'hg'), cwd=base)
    return weights(base / 'alone')


def test_dist_train_on_two_nodes_equals_one_launcher(hg_config, trained_alone, tmp_path):
    base, config = hg_config
    nodes = run_two_nodes(train_cmd(config, tmp_path / 'work'),
                          environment(ROOT / 'tests' / 'hg'), tmp_path / 'logs', cwd=(base, base))
    both_ok(nodes)
    assert same_weights(weights(tmp_path / 'work'), trained_alone)


def test_dist_train_node_down_then_both_restarted_with_resume(hg_config, trained_alone,
                                                               tmp_path):
    base, config = hg_config
    env = environment(ROOT / 'tests' / 'hg')
    crashed(run_two_nodes(train_cmd(config, tmp_path / 'work'), env, tmp_path / 'a',
                          cwd=(base, base), crash=f'train:{EVERY}'))
    assert (tmp_path / 'work' / f'iter_{EVERY}.pth').is_file()
    assert not (tmp_path / 'work' / f'iter_{ITERS}.pth').exists()
    nodes = run_two_nodes(train_cmd(config, tmp_path / 'work', '--resume'), env, tmp_path / 'b',
                          cwd=(base, base))
    both_ok(nodes)
    assert f'Auto resumed from the latest checkpoint {tmp_path / "work"}/iter_{EVERY}.pth' \
        in nodes[0].log and f'resumed epoch: 0, iter: {EVERY}' in nodes[0].log
    assert same_weights(weights(tmp_path / 'work'), trained_alone)


def test_dist_train_node_with_other_options_is_refused(hg_config, tmp_path):
    base, config = hg_config
    env = environment(ROOT / 'tests' / 'hg')
    cmd = per_node(tmp_path, train_cmd(config, tmp_path / 'work'),
                   train_cmd(config, tmp_path / 'work', '--cfg-options',
                             'optim_wrapper.optimizer.lr=0.01'))
    refused(run_two_nodes(cmd, env, tmp_path / 'logs', cwd=(base, base)),
            'error: node 1 (rank 1) was started with other options or data than node 0 '
            '(rank 0): optim_wrapper.optimizer.lr is 0.01 on node 1, 0.002 on node 0. Start '
            'the same command')
    assert not (tmp_path / 'work' / f'iter_{EVERY}.pth').exists()
