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


def test_second_gpu_when_asked_for(tmp_path):
    """`--device cuda:1` (issue 29 items 2 and 6): the benchmark's timings wait for GPU 1 and
    its peak memory is GPU 1's (it read GPU 0's: 0); the predictor leaves GPU 0 alone."""
    import subprocess

    import segearth_ov
    if torch.cuda.device_count() < 2:
        pytest.skip('needs two GPUs')
    out = subprocess.run(
        [sys.executable, str(ROOT / 'tools' / 'benchmark.py'), '--size', '224', '--runs', '1',
         '--device', 'cuda:1'], capture_output=True, text=True, timeout=600,
        env={**os.environ, 'SEGEARTH_CACHE': str(tmp_path)})
    assert out.returncode == 0, out.stderr[-2000:]
    figures = dict(line.split(' ', 1) for line in out.stdout.splitlines() if ' ' in line)
    assert figures['device'] == f'cuda {torch.cuda.get_device_name(1)}'
    assert float(figures['peak_cuda_mb']) > 0
    before = torch.cuda.memory_allocated(0)
    torch.cuda.reset_peak_memory_stats(0)
    model = tiny_segmentor(CLASSES, precision='fp32', device='cuda:1')
    labels = segearth_ov.predict(oem_rgb(), ';'.join(CLASSES), model=model)
    assert model.device == torch.device('cuda', 1) and labels.shape == (300, 260)
    assert torch.cuda.max_memory_allocated(0) == before


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


def _eval_without_gpus(config, options, *args, cwd):
    """eval.py in a process that sees no GPU (CUDA_VISIBLE_DEVICES=''): a CPU reference no
    placement of ours can move to a GPU."""
    import subprocess
    env = dict(os.environ, CUDA_VISIBLE_DEVICES='', SEGEARTH_TEST_DEVICE='cpu')
    proc = subprocess.run([sys.executable, str(ROOT / 'eval.py'), '--config', config, *args,
                           '--cfg-options', *options], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def test_eval_py_on_cuda_gives_the_cpu_metrics(udd5, tmp_path):
    """The CPU reference once ran on the GPU too (mmengine's Runner moved it there whatever
    was patched): it runs in a process without GPUs now."""
    from segearth_ov.evaluation.results import read_rows
    config, options = udd5
    fp32 = ['model.precision=fp32']
    assert _eval(config, _on(options, model_device()) + fp32, '--work-dir', 'gpu',
                 '--results', 'gpu.xlsx') == 0
    _eval_without_gpus(config, _on(options, 'cpu') + fp32, '--work-dir', 'cpu',
                       '--results', 'cpu.xlsx', cwd=tmp_path)
    gpu, cpu = read_rows(tmp_path / 'gpu.xlsx')[0], read_rows(tmp_path / 'cpu.xlsx')[0]
    assert gpu['images'] == cpu['images'] == 3
    assert gpu['mIoU'] == pytest.approx(cpu['mIoU'], abs=0.5)


def _peaks_during(fn):
    """(allocated before, peak during `fn()`) of every visible GPU."""
    gpus = range(torch.cuda.device_count())
    before = [torch.cuda.memory_allocated(i) for i in gpus]
    for i in gpus:
        torch.cuda.reset_peak_memory_stats(i)
    fn()
    return before, [torch.cuda.max_memory_allocated(i) for i in gpus]


def test_eval_py_keeps_the_model_on_the_device_asked_for(udd5):
    """Issue 29 item 1 on a GPU machine: `model.device=cpu` allocates nothing on any GPU;
    `model.device=cuda:1` (with two GPUs) allocates on GPU 1 only."""
    config, options = udd5
    before, peak = _peaks_during(lambda: _eval(config, _on(options, 'cpu'), '--work-dir', 'cpu',
                                               '--results', 'cpu.xlsx'))
    assert peak == before, (before, peak)
    if torch.cuda.device_count() < 2:
        return
    before, peak = _peaks_during(lambda: _eval(config, _on(options, 'cuda:1'), '--work-dir',
                                               'gpu1', '--results', 'gpu1.xlsx'))
    assert peak[0] == before[0] and peak[1] > before[1], (before, peak)


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
def _same_tensors(a: dict, b: dict, rel=1e-3) -> list[str]:
    """The keys whose tensors differ by more than `rel` of their norm: CUDA's backward
    kernels may add in another order, which Adam can turn into a flipped step on an entry
    whose gradient is nearly 0; a lost generator state or step changes whole tensors."""
    assert a.keys() == b.keys()
    return [k for k in a if torch.is_floating_point(a[k]) and
            (a[k].float() - b[k].float()).norm() > rel * a[k].float().norm() + 1e-6]


def test_simfeatup_resumed_on_cuda_equals_uninterrupted_with_pinned_workers(tmp_path):
    """A run killed after step 2 and resumed ends where an uninterrupted one does (the
    dropout and views of the GPU's generator restored, issue 29 items 4 and 6), with
    DataLoader workers feeding pinned memory (num_workers=2 on CUDA)."""
    import cv2
    from segearth_ov.utils.images import read_image
    from simfeatup_train.trainer import train
    sft = _import_from('training', 'test_simfeatup_train')
    images = tmp_path / 'images'
    images.mkdir()
    tile = read_image(OEM_TILE)
    for i in range(8):
        cv2.imwrite(str(images / f'oem_{i}.png'), tile[10 * i:10 * i + 80, :80, ::-1])
    cfg = dict(device=model_device(), num_workers=2, save_every=2)

    def killed(step, info):
        if step == 3:
            raise KeyboardInterrupt('killed after step 3, whose state was never saved')
    full = train(sft.small_cfg(images, tmp_path / 'full', max_steps=4, **cfg))
    with pytest.raises(KeyboardInterrupt):
        train(sft.small_cfg(images, tmp_path / 'cut', max_steps=4, **cfg), on_step=killed)
    resumed = train(sft.small_cfg(images, tmp_path / 'cut', max_steps=4, **cfg), resume=True)
    state = torch.load(tmp_path / 'cut' / 'state_latest.pt', map_location='cpu',
                       weights_only=True)
    assert state['step'] == 4 and 'cuda_device' in state['rng'][0]
    a, b = (torch.load(p, map_location='cpu', weights_only=True)['state_dict']
            for p in (full, resumed))
    assert not _same_tensors(a, b)


def test_alignearth_resumed_on_cuda_equals_uninterrupted(tmp_path):
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from alignearth_train import train as train_cli
    from alignearth_train.synthetic import make_pairs
    pairs = make_pairs([OEM_TILE], tmp_path / 'pairs', tile=128, looks=1, max_shift=2)
    common = ['--device', model_device(), '--cfg-options', f'data.pairs={pairs}',
              f'teacher.pretrained={TINY_PT}', f'teacher.model_cfg={TINY_CFG}',
              'data.image_size=64', 'loss.regions=4', 'data.val_fraction=0.25',
              'data.num_workers=2', 'batch_size=4', 'epochs=2', 'val_at_start=False',
              'save_epoch_checkpoints=False']
    train_cli.main(['--work-dir', str(tmp_path / 'full'), '--max-steps', '2', *common])
    stopped = train_cli.main(['--work-dir', str(tmp_path / 'cut'), '--max-steps', '1', *common])
    assert stopped['stopped']
    train_cli.main(['--work-dir', str(tmp_path / 'cut'), '--resume', '--max-steps', '2',
                    *common])
    full, cut = (torch.load(tmp_path / w / 'training_state.pt', map_location='cpu',
                            weights_only=True) for w in ('full', 'cut'))
    assert full['global_step'] == cut['global_step'] == 2
    assert all(torch.isfinite(v).all() for v in cut['student'].values()
               if torch.is_floating_point(v))
    assert not _same_tensors(full['student'], cut['student'])


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
