"""tools/train.py on a learnable synthetic set (tiny CLIP): loss falls, mIoU rises, renamed
and reordered class lists stay consistent, and a SIGKILLed run resumes to the same weights."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import ROOT, TINY_CFG, TINY_PT
from hg_helpers import write_shapes_dataset

HERE = Path(__file__).resolve().parent
ITERS, CKPT_EVERY = 40, 4

CONFIG = '''_base_ = {base!r}
custom_imports = dict(imports=['segearth_ov', 'segearth_ov.evaluation',
                               'segearth_ov.datasets.fraction', 'hg_kill_hook'])
crop_size = (64, 64)
model = dict(vit_type='ViT-B/16', pretrained={pt!r}, model_cfg={cfg!r}, c_k=32, c_o=(32, 16),
             name_path={classes!r}, data_preprocessor=dict(size=crop_size))
train_pipeline = [
    dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(64, 64), ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size), dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')]
data = dict(type='CustomSegDataset', data_root={root!r}, classes_file='classes.txt',
            reduce_zero_label=True, data_prefix=dict(img_path='images', seg_map_path='labels'))
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                        dataset=dict(data, pipeline=train_pipeline))
test_dataloader = dict(num_workers=0, persistent_workers=False, dataset=data)
optim_wrapper = dict(optimizer=dict(lr=2e-3))
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end={iters},
                        by_epoch=False)]
train_cfg = dict(max_iters={iters})
default_hooks = dict(logger=dict(interval=5),
                     checkpoint=dict(interval={every}, max_keep_ckpts=-1))
randomness = dict(seed=0)
'''


def train(config, work_dir, *extra, check=True):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), str(ROOT)]),
               OMP_NUM_THREADS='2')
    cmd = [sys.executable, str(ROOT / 'tools' / 'train.py'), str(config), '--work-dir',
           str(work_dir), *extra]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def load_state(path):
    from segearth_ov.utils.checkpoints import mmengine_checkpoints_allowed
    with mmengine_checkpoints_allowed():
        return torch.load(path, map_location='cpu', weights_only=True)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp('hg_train')
    classes = write_shapes_dataset(root / 'data', n_images=12, size=64)
    config = root / 'hg_shapes.py'
    config.write_text(CONFIG.format(
        base=str(ROOT / 'configs' / 'hg_rsovsseg' / '_base_' / 'hg_runtime.py'),
        pt=str(TINY_PT), cfg=str(TINY_CFG), classes=str(classes), root=str(root / 'data'),
        iters=ITERS, every=CKPT_EVERY))
    train(config, root / 'full')
    return root, config


def scalars(work_dir):
    logs = sorted(Path(work_dir).glob('*/vis_data/scalars.json'))
    return [json.loads(line) for line in logs[-1].read_text().splitlines()]


def predict_labels(model, root):
    """Predictions and labels (0..2, 255 ignored) of the 12 training images."""
    from mmseg.structures import SegDataSample
    preds, labels = [], []
    for img_path in sorted((root / 'data' / 'images').glob('*.png')):
        rgb = np.array(Image.open(img_path))
        lab = np.array(Image.open(root / 'data' / 'labels' / img_path.name)).astype(np.int64) - 1
        lab[lab < 0] = 255
        bgr = torch.from_numpy(np.ascontiguousarray(rgb[..., ::-1].transpose(2, 0, 1)))
        sample = SegDataSample(metainfo=dict(ori_shape=rgb.shape[:2], img_shape=rgb.shape[:2]))
        data = model.data_preprocessor(dict(inputs=[bgr], data_samples=[sample]), False)
        out = model.predict(data['inputs'], data['data_samples'])[0]
        preds.append(out.pred_sem_seg.data[0].numpy())
        labels.append(lab)
    return np.stack(preds), np.stack(labels)


def miou(pred, label, n=3):
    valid = label != 255
    ious = [((pred == k) & (label == k) & valid).sum() / (((pred == k) | (label == k)) & valid).sum()
            for k in range(n)]
    return float(np.mean(ious))


def test_short_training_learns_the_shapes(trained):
    root, config = trained
    logs = [r for r in scalars(root / 'full') if 'loss' in r]
    first, last = logs[0]['loss'], logs[-1]['loss']
    assert last <= first * 2 / 3, (first, last)
    assert logs[-1]['iter'] == ITERS

    from mmengine.config import Config
    from mmseg.registry import MODELS
    import segearth_ov  # noqa: F401
    cfg = Config.fromfile(str(config))
    model = MODELS.build(cfg.model).eval()
    state = load_state(root / 'full' / f'iter_{ITERS}.pth')['state_dict']
    model.load_state_dict(state, strict=True)
    pred, label = predict_labels(model, root)
    score = miou(pred, label)
    assert score > 0.6, score                      # chance is about 0.2 for 3 classes

    # reordered class list: the same pixels get the same colours
    model.set_classes(['blue', 'red', 'green'])
    pred2, _ = predict_labels(model, root)
    back = np.array([2, 0, 1])[pred2]              # new index → old index
    assert (back == pred).mean() > 0.999
    # renamed (a synonym line added) runs and stays close
    model.set_classes(['red,crimson', 'green', 'blue'])
    pred3, _ = predict_labels(model, root)
    assert pred3.shape == pred.shape and (pred3 == pred).mean() > 0.5


def test_killed_run_resumes_to_the_same_weights(trained):
    """SIGKILL after iteration 5 (checkpoint at 4), resume, stop at 8: the weights and the
    optimizer state equal those of the uninterrupted run at iteration 8 (same schedule:
    the poly schedule's end stays 40, only the loop stops early)."""
    root, config = trained
    killing = root / 'hg_shapes_killed.py'
    killing.write_text(f"_base_ = {str(config)!r}\n"
                       "custom_hooks = [dict(type='HGKillAfterIter', after=5)]\n")
    work = root / 'killed'
    proc = train(killing, work, check=False)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert (work / 'iter_4.pth').is_file() and not (work / 'iter_8.pth').exists()
    train(config, work, '--resume', '--cfg-options', 'train_cfg.max_iters=8')
    full = load_state(root / 'full' / 'iter_8.pth')
    resumed = load_state(work / 'iter_8.pth')
    assert full['meta']['iter'] == resumed['meta']['iter'] == 8
    for k, v in full['state_dict'].items():
        assert torch.equal(v, resumed['state_dict'][k]), k
    exp_avg = [s['exp_avg'] for s in full['optimizer']['state'].values()]
    exp_avg2 = [s['exp_avg'] for s in resumed['optimizer']['state'].values()]
    assert exp_avg and all(torch.equal(a, b) for a, b in zip(exp_avg, exp_avg2))


def test_a_second_run_on_a_work_dir_in_use_stops_at_once(tmp_path):
    """tools/train.py: one run per work dir; the refusal is one line naming the other run."""
    from lock_holder import lock_held_by_another_process
    config = ROOT / 'configs' / 'hg_rsovsseg' / 'hg_vitb16_globe230k.py'
    with lock_held_by_another_process(tmp_path / 'work') as holder:
        proc = train(config, tmp_path / 'work', check=False)
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1].startswith(
        f'error: {tmp_path / "work"} is in use by the run with PID {holder.pid}')
    assert list((tmp_path / 'work').iterdir()) == [tmp_path / 'work' / 'train.lock']


def test_missing_data_then_missing_weights_are_one_line_each_and_leave_no_folder(tmp_path):
    """tools/train.py checks the data, then the weights, before making any folder. Was: a
    traceback ending in WeightsNotFoundError, an empty <work_dir>/<timestamp>/ left behind,
    and the missing data said only on the next try."""
    no_weights = tmp_path / 'no_such_clip.pt'
    config = tmp_path / 'hg_shapes.py'
    config.write_text(CONFIG.format(
        base=str(ROOT / 'configs' / 'hg_rsovsseg' / '_base_' / 'hg_runtime.py'),
        pt=str(no_weights), cfg=str(TINY_CFG), classes=str(tmp_path / 'data' / 'classes.txt'),
        root=str(tmp_path / 'data'), iters=ITERS, every=CKPT_EVERY))
    work = tmp_path / 'work_dirs' / 'hg_shapes'
    proc = train(config, work, check=False)
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == [
        f'error: data not found: {tmp_path / "data"} (see docs/evaluation.md for the layout)']
    assert not (tmp_path / 'work_dirs').exists()
    write_shapes_dataset(tmp_path / 'data', n_images=2, size=64)
    proc = train(config, work, check=False)
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"error: pretrained={str(no_weights)!r} is not a file."), lines
    assert not (tmp_path / 'work_dirs').exists()


STEADY = '''_base_ = {base!r}
crop_size = (64, 64)
model = dict(vit_type='ViT-B/16', pretrained={pt!r}, model_cfg={cfg!r}, c_k=32, c_o=(32, 16),
             name_path={classes!r}, data_preprocessor=dict(size=crop_size))
pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', reduce_zero_label=True),
            dict(type='PackSegInputs')]
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=False),
    dataset=dict(type='CustomSegDataset', data_root={root!r}, classes_file='classes.txt',
                 reduce_zero_label=True, data_prefix=dict(img_path='images',
                                                          seg_map_path='labels'),
                 pipeline=pipeline))
test_dataloader = None
test_cfg = None
test_evaluator = None
optim_wrapper = dict(optimizer=dict(_delete_=True, type='SGD', lr=0.5))
train_cfg = dict(max_iters=2)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2))
'''


def test_dist_train_sh_on_two_gloo_processes_takes_one_process_step(tmp_path):
    """`bash dist_train.sh CONFIG 2` on the CPU (gloo; mmengine's DDP was given the
    LOCAL_RANK as a device id, which torch refuses for a CPU model): 2 processes × 1 image
    make the steps of 1 process × 2 images — no augmentation, no ignored pixel, the images
    in order — so DDP's average of the two gradients is the one process's gradient. SGD,
    whose step is linear in the gradient: Adam's normalised step turns the float noise on
    the biases before a GroupNorm (their true gradient is 0) into whole steps."""
    classes = write_shapes_dataset(tmp_path / 'data', n_images=4, size=64)
    for label in (tmp_path / 'data' / 'labels').glob('*.png'):
        lab = np.array(Image.open(label))
        Image.fromarray(np.maximum(lab, 1)).save(label)      # no pixel ignored
    config = tmp_path / 'hg_steady.py'
    config.write_text(STEADY.format(
        base=str(ROOT / 'configs' / 'hg_rsovsseg' / '_base_' / 'hg_runtime.py'),
        pt=str(TINY_PT), cfg=str(TINY_CFG), classes=str(classes), root=str(tmp_path / 'data')))
    train(config, tmp_path / 'one')
    from conftest import run_launcher
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='',
               PORT='0', PYTHON=sys.executable,
               PATH=f'{bin_dir}{os.pathsep}{os.environ.get("PATH", "")}')
    proc = run_launcher(['bash', str(ROOT / 'dist_train.sh'), str(config), '2', '--work-dir',
                         str(tmp_path / 'two'), '--cfg-options', 'train_dataloader.batch_size=1'],
                        cwd=ROOT, env=env, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert 'Distributed launcher: pytorch' in log and "'backend': 'gloo'" in log, log[-3000:]
    one, two = (load_state(tmp_path / w / 'iter_2.pth')['state_dict'] for w in ('one', 'two'))
    assert one.keys() == two.keys()
    for k, v in one.items():
        assert torch.allclose(v, two[k], rtol=0, atol=1e-6), k
