"""The plain-PyTorch trainers under torchrun with 2 CPU processes (gloo): DDP really
synchronises the ranks. (AlignEarth's: tests/training/test_alignearth_train.py; HG-RSOVSSeg
through dist_train.sh: tests/hg/test_hg_training.py.)"""
from __future__ import annotations

import os
import sys

import cv2
import pytest
import torch

from conftest import OEM_TILE, ROOT, TINY_CFG, TINY_PT, run_launcher
from segearth_ov.utils.images import read_image

pytestmark = pytest.mark.skipif(not torch.distributed.is_gloo_available(),
                                reason='no gloo backend')


def test_simfeatup_on_two_gloo_processes_keeps_the_ranks_in_step(tmp_path):
    """`torchrun --nproc_per_node 2 simfeatup_train/train.py` (README's command) on the CPU:
    the ranks train on disjoint halves of the images with their own views, and DDP's
    averaged gradients leave both with the same weights, moved from the initial ones and
    equal to the state rank 0 saved."""
    from simfeatup_train.trainer import Run
    images = tmp_path / 'images'
    images.mkdir()
    tile = read_image(OEM_TILE)
    for i in range(8):
        cv2.imwrite(str(images / f'oem_{i}.png'), tile[60 * i:60 * i + 64, :64, ::-1])
    options = [f'pretrained={TINY_PT}', f'model_cfg={TINY_CFG}', f'data={images}',
               'crop_size=48', 'batch_size=2', 'n_jitters=2', 'max_steps=2', 'num_workers=0',
               'device=cpu', 'vis_every=1000']
    env = dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='',
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')]))
    proc = run_launcher(
        [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--standalone',
         str(ROOT / 'tests' / 'training' / 'simfeatup_worker.py'), str(tmp_path),
         '--config', str(ROOT / 'simfeatup_train' / 'configs' / 'simfeatup_clip_vit_b16.py'),
         '--work-dir', str(tmp_path / 'work'), '--cfg-options', *options],
        cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ranks = [torch.load(tmp_path / f'rank{r}.pt', weights_only=True) for r in (0, 1)]
    assert sorted(ranks[0]['served'] + ranks[1]['served']) == list(range(8))
    a, b = ranks[0]['weights'], ranks[1]['weights']
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    state = torch.load(tmp_path / 'work' / 'state_latest.pt', weights_only=True)
    assert state['step'] == 2 and state['world_size'] == 2 and len(state['rng']) == 2
    assert all(torch.equal(state['model'][k], a[k]) for k in a)
    cfg = dict(pretrained=str(TINY_PT), model_cfg=str(TINY_CFG), data=str(images),
               work_dir=str(tmp_path / 'init'), crop_size=48, device='cpu')
    initial = Run(cfg).model.state_dict()     # the same seed: the weights the ranks began with
    moved = [k for k in a if 'upsampler' in k and not torch.equal(a[k], initial[k])]
    assert moved, 'no upsampler weight changed'
