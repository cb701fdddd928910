"""`make test-gpu`: the paths a GPU user takes, run for real on CUDA (`--device cuda`).

Every test here is marked `gpu` and skipped on CPU runs. Each compares with the CPU where a
result is defined (the predictor, eval.py, dist_test.sh) and otherwise checks that the CUDA
run finishes and resumes. Parity on the goldens (fp32) and the fp16 agreement table are in
tests/models/test_parity.py, which `make test-gpu` runs with the same device.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine

from conftest import (JBU_CKPT, OEM_TILE, ROOT, TINY_CFG, TINY_PT, load_script, model_device,
                      run_launcher, tiny_segmentor)

pytestmark = pytest.mark.gpu

CLASSES = ['background', 'bareland,barren', 'grass', 'road', 'tree,forest', 'water,river',
           'building,roof,house']                 # the demo's classes: with synonyms
BIN = Path(sys.executable).parent
TORCHRUN = shutil.which('torchrun', path=f'{BIN}{os.pathsep}{os.environ.get("PATH", "")}')
TESTS = Path(__file__).resolve().parents[1]


def _import_from(folder: str, module: str):
    sys.path.insert(0, str(TESTS / folder))
    try:
        return __import__(module)
    finally:
        sys.path.remove(str(TESTS / folder))


def oem_rgb(h=300, w=260):
    from segearth_ov.utils.images import read_image
    return read_image(OEM_TILE)[:h, :w]


# ----------------------------------------------------------------------- the predictor
def test_predictor_with_synonyms_equals_the_cpu(tmp_path):
    """Issue 19 item 1 for real: the scene predictor's CPU logits and the CUDA model's
    synonym indices (make demo's crash), in fp32 against the CPU."""
    import segearth_ov
    rgb = oem_rgb()
    on_gpu = tiny_segmentor(CLASSES, precision='fp32')
    on_cpu = tiny_segmentor(CLASSES, precision='fp32', device='cpu')
    labels, probs = segearth_ov.predict(rgb, ';'.join(CLASSES), return_probs=True, model=on_gpu)
    ref_labels, ref_probs = segearth_ov.predict(rgb, ';'.join(CLASSES), return_probs=True,
                                                model=on_cpu)
    assert (labels == ref_labels).mean() >= 0.999
    assert np.abs(probs - ref_probs).max() <= 2e-3


def test_predict_cli_and_region_mode_on_cuda(tmp_path):
    """tools/predict.py on one GeoTIFF, and region mode over two, with --device cuda."""
    from segearth_ov.mapping import region
    from segearth_ov.mapping.cli import main
    rng = np.random.default_rng(0)
    scenes = []
    for k in range(2):
        path = tmp_path / f'scene{k}.tif'
        with rasterio.open(path, 'w', driver='GTiff', height=120, width=150, count=3,
                           dtype='uint8', crs='EPSG:32632',
                           transform=Affine(0.5, 0, 500000 + 80 * k, 0, -0.5, 5600000)) as dst:
            dst.write(rng.integers(1, 255, (3, 120, 150), dtype=np.uint8))
        scenes.append(path)
    model = ['--pretrained', str(TINY_PT), '--model-cfg', str(TINY_CFG),
             '--upsampler-ckpt', str(JBU_CKPT['jbu_one']), '--device', model_device()]
    classes = ['--classes', 'water,river;field;town,building']
    assert main([str(scenes[0]), *classes, *model, '--out', str(tmp_path / 'one'),
                 '--quiet']) == 0
    with rasterio.open(tmp_path / 'one' / 'scene0_labels.tif') as src:
        assert src.read(1).max() < 3
    assert region.main([*map(str, scenes), *classes, *model, '--out', str(tmp_path / 'region'),
                        '--quiet', '--region']) == 0
    for k in range(2):
        with rasterio.open(tmp_path / 'region' / f'scene{k}_labels.tif') as src:
            assert src.read(1).max() < 3


# ----------------------------------------------------------------------- evaluation
@pytest.fixture
def udd5(tmp_path, monkeypatch):
    sd = _import_from('.', 'synthetic_data')
    from segearth_ov.evaluation.run import load_config
    monkeypatch.chdir(tmp_path)
    config = str(sd.CONFIGS / 'cfg_udd5.py')
    cfg = load_config(config)
    sd.make_synthetic_dataset(cfg, tmp_path, count=3)
    return config, sd.cli_options(cfg)


def _on(options, device):
    return [o if not o.startswith('model.device=') else f'model.device={device}'
            for o in options]


def _eval(config, options, *args):
    return load_script('eval.py').main(['--config', config, *args, '--cfg-options', *options])


def test_eval_py_on_cuda_gives_the_cpu_metrics(udd5, tmp_path, monkeypatch):
    from segearth_ov.evaluation.results import read_rows
    config, options = udd5
    fp32 = ['model.precision=fp32']
    assert _eval(config, _on(options, model_device()) + fp32, '--work-dir', 'gpu',
                 '--results', 'gpu.xlsx') == 0
    with monkeypatch.context() as m:            # the Runner would move the model to CUDA
        m.setattr(torch.cuda, 'is_available', lambda: False)
        assert _eval(config, _on(options, 'cpu') + fp32, '--work-dir', 'cpu',
                     '--results', 'cpu.xlsx') == 0
    gpu, cpu = read_rows(tmp_path / 'gpu.xlsx')[0], read_rows(tmp_path / 'cpu.xlsx')[0]
    assert gpu['images'] == cpu['images'] == 3
    assert gpu['mIoU'] == pytest.approx(cpu['mIoU'], abs=0.5)


@pytest.mark.skipif(TORCHRUN is None, reason='torchrun is not installed beside this Python')
@pytest.mark.parametrize('procs', [1, 2])
def test_dist_test_sh_with_nccl(procs, udd5, tmp_path):
    if procs > torch.cuda.device_count():
        pytest.skip(f'{procs} processes need {procs} GPUs')
    from segearth_ov.evaluation.results import read_rows
    config, options = udd5
    options = _on(options, 'cuda') + ['model.precision=fp32']
    assert _eval(config, options, '--work-dir', 'single', '--results', 'single.xlsx') == 0
    env = dict(os.environ, PATH=f'{BIN}{os.pathsep}{os.environ.get("PATH", "")}',
               PORT='0', OMP_NUM_THREADS='1')       # PORT=0: torchrun binds free ports
    proc = run_launcher(
        ['bash', str(ROOT / 'dist_test.sh'), config, str(procs), '--work-dir', 'dist',
         '--results', 'dist.xlsx', '--cfg-options', *options],
        cwd=tmp_path, env=env, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert 'Distributed launcher: pytorch' in log and "backend='nccl'" in log, log[-3000:]
    single, dist = read_rows(tmp_path / 'single.xlsx')[0], read_rows(tmp_path / 'dist.xlsx')
    assert len(dist) == 1 and dist[0]['images'] == 3
    assert dist[0]['mIoU'] == pytest.approx(single['mIoU'], abs=1e-6)


# ----------------------------------------------------------------------- training
def test_simfeatup_step_and_resume_on_cuda(tmp_path):
    import cv2
    from segearth_ov.utils.images import read_image
    from simfeatup_train.trainer import train
    sft = _import_from('training', 'test_simfeatup_train')
    images = tmp_path / 'images'
    images.mkdir()
    tile = read_image(OEM_TILE)
    for i in range(8):
        cv2.imwrite(str(images / f'oem_{i}.png'), tile[10 * i:10 * i + 80, :80, ::-1])
    cfg = sft.small_cfg(images, tmp_path / 'run', max_steps=1, device=model_device())
    train(cfg)
    ckpt = train(dict(cfg, max_steps=2), resume=True)
    state = torch.load(tmp_path / 'run' / 'state_latest.pt', map_location='cpu',
                       weights_only=True)
    assert state['step'] == 2 and Path(ckpt).is_file()


def test_alignearth_step_and_resume_on_cuda(tmp_path):
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from alignearth_train import train as train_cli
    from alignearth_train.synthetic import make_pairs
    pairs = make_pairs([OEM_TILE], tmp_path / 'pairs', tile=128, looks=1, max_shift=2)
    common = ['--device', model_device(), '--cfg-options', f'data.pairs={pairs}',
              f'teacher.pretrained={TINY_PT}', f'teacher.model_cfg={TINY_CFG}',
              'data.image_size=64', 'loss.regions=4', 'data.val_fraction=0.25',
              'data.num_workers=0', 'batch_size=4', 'epochs=2', 'val_at_start=False',
              'save_epoch_checkpoints=False']
    stopped = train_cli.main(['--work-dir', str(tmp_path / 'run'), '--max-steps', '1', *common])
    assert stopped['stopped']
    train_cli.main(['--work-dir', str(tmp_path / 'run'), '--resume', '--max-steps', '2',
                    *common])
    state = torch.load(tmp_path / 'run' / 'training_state.pt', map_location='cpu',
                       weights_only=True)
    assert state['global_step'] == 2
    assert all(torch.isfinite(v).all() for v in state['student'].values()
               if torch.is_floating_point(v))


def test_hg_rsovsseg_training_step_on_cuda(tmp_path):
    hg = _import_from('hg', 'test_hg_training')
    helpers = _import_from('hg', 'hg_helpers')
    classes = helpers.write_shapes_dataset(tmp_path / 'data', n_images=4, size=64)
    config = tmp_path / 'hg_shapes.py'
    config.write_text(hg.CONFIG.format(
        base=str(ROOT / 'configs' / 'hg_rsovsseg' / '_base_' / 'hg_runtime.py'),
        pt=str(TINY_PT), cfg=str(TINY_CFG), classes=str(classes), root=str(tmp_path / 'data'),
        iters=2, every=2))
    proc = hg.train(config, tmp_path / 'work')          # tools/train.py: mmengine picks CUDA
    assert 'CUDA available: True' in proc.stdout + proc.stderr
    assert (tmp_path / 'work' / 'iter_2.pth').is_file()
