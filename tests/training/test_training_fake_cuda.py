"""The training steps on 'cuda' without a GPU (tests/fake_cuda.py): AlignEarth's and
SimFeatUp's forward, losses and one optimiser step, through the trainers' own code, under
CUDA autocast where the trainer uses it. A tensor left on the CPU where the GPU is meant
(or the other way round) raises FakeTensorDeviceMismatchError here. The modules are built
on the CPU, as in every run (a module built inside the fake mode cannot be moved), and the
backward gives zero gradients (tests/fake_cuda_grads.py: the engine needs a real GPU)."""
from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from conftest import OEM_TILE, ROOT, TINY_CFG, TINY_PT
from fake_cuda import fake_cuda, is_fake
from fake_cuda_grads import zero_grad_backward

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from segearth_ov.utils.distributed import DistContext  # noqa: E402
from segearth_ov.utils.images import read_image  # noqa: E402

CUDA = DistContext(device=torch.device('cuda', 0))


@pytest.fixture(scope='module')
def pairs_file(tmp_path_factory):
    from alignearth_train.synthetic import make_pairs
    out = tmp_path_factory.mktemp('pairs')
    make_pairs([OEM_TILE], out, tile=250, looks=1, max_shift=2, seed=0)
    return out / 'pairs.txt'


def test_alignearth_resume_and_step_on_cuda(pairs_file, tmp_path, monkeypatch):
    import alignearth_train.trainer as trainer_module
    from alignearth_train.config import load_config
    from alignearth_train.encoders import build_encoders
    from alignearth_train.losses import AlignEarthLoss
    from alignearth_train.trainer import AlignEarthTrainer
    cfg = load_config(None, {
        'data.pairs': str(pairs_file), 'teacher.pretrained': str(TINY_PT),
        'teacher.model_cfg': str(TINY_CFG), 'data.image_size': 32, 'loss.regions': 2,
        'data.val_pairs': str(pairs_file),    # no random split: fake tensors hold no values
        'batch_size': 4, 'amp': 'bf16', 'optimizer.grad_clip': 1.0, 'work_dir': str(tmp_path)})
    cpu = AlignEarthTrainer(dict(cfg, amp='none'), ctx=DistContext())
    optical, sar, _ = zip(*[cpu.train_set[i] for i in range(4)])
    optical, sar = torch.stack(optical), torch.stack(sar)      # a batch from the CPU loader
    cpu.save_state()
    encoders = build_encoders('CLIP', 'ViT-B/16', str(TINY_PT), str(TINY_CFG))
    loss = AlignEarthLoss(**cfg['loss'])
    monkeypatch.setattr(trainer_module, 'build_encoders', lambda *args: encoders)
    monkeypatch.setattr(trainer_module, 'AlignEarthLoss', lambda **kwargs: loss)
    # torch.autocast('cuda', bfloat16) asks the (absent) GPU whether it has bf16
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda *args, **kwargs: True)
    with fake_cuda():
        trainer = AlignEarthTrainer(cfg, resume=True, ctx=CUDA)   # a state written on the CPU
        assert trainer.dtype == torch.bfloat16 and trainer.global_step == 0
        params = [*trainer.student.parameters(), *trainer.loss.parameters()]
        with zero_grad_backward(params) as losses:
            logs = trainer._micro_step(optical, sar, last=True)
        assert losses[0].device.type == 'cuda' and losses[0].dtype == torch.float32
        assert {v.device.type for v in logs.values()} == {'cuda'}
        assert {v.dtype for v in logs.values()} == {torch.float32}
        trainer._optimiser_step()
        for p in params:
            assert is_fake(p) and p.device.type == 'cuda'
            assert trainer.optimizer.state[p]['exp_avg'].device.type == 'cuda'


@pytest.mark.parametrize('native_bf16, expected', [(False, torch.float16),
                                                    (True, torch.bfloat16)])
def test_alignearth_amp_auto_takes_bf16_only_where_the_gpu_has_it(
        native_bf16, expected, pairs_file, tmp_path, monkeypatch):
    """Issue 29 item 3: amp='auto' (the default) asked `torch.cuda.is_bf16_supported()`,
    which counts emulation: a V100 or T4 trained in slow emulated bf16. It takes bf16 only
    where the GPU computes it natively (an A100), else fp16 with the loss scaler."""
    import alignearth_train.trainer as trainer_module
    from alignearth_train.config import load_config
    from alignearth_train.encoders import build_encoders
    from alignearth_train.losses import AlignEarthLoss
    from alignearth_train.trainer import AlignEarthTrainer
    cfg = load_config(None, {
        'data.pairs': str(pairs_file), 'teacher.pretrained': str(TINY_PT),
        'teacher.model_cfg': str(TINY_CFG), 'data.image_size': 32, 'loss.regions': 2,
        'data.val_pairs': str(pairs_file), 'batch_size': 4, 'work_dir': str(tmp_path)})
    assert cfg['amp'] == 'auto'
    encoders = build_encoders('CLIP', 'ViT-B/16', str(TINY_PT), str(TINY_CFG))
    loss = AlignEarthLoss(**cfg['loss'])          # built on the CPU, as in a run
    monkeypatch.setattr(trainer_module, 'build_encoders', lambda *args: encoders)
    monkeypatch.setattr(trainer_module, 'AlignEarthLoss', lambda **kwargs: loss)

    def is_bf16_supported(including_emulation=True):   # emulation counts by default
        return native_bf16 or including_emulation
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', is_bf16_supported)
    scalers = []
    monkeypatch.setattr(trainer_module.torch.amp, 'GradScaler',
                        lambda device, enabled: scalers.append(enabled))
    with fake_cuda():
        trainer = AlignEarthTrainer(cfg, ctx=CUDA)
    assert trainer.dtype == expected and scalers == [expected == torch.float16]


def test_simfeatup_step_on_cuda(tmp_path, monkeypatch):
    import cv2
    from torch._subclasses.fake_tensor import unset_fake_temporarily

    import simfeatup_train.trainer as trainer_module
    from segearth_ov.models.upsamplers.jbu import build_upsampler
    from simfeatup_train.features import FrozenCLIPFeatures
    from simfeatup_train.objective import SimFeatUpObjective
    from simfeatup_train.trainer import Run
    tile = read_image(OEM_TILE)
    images = tmp_path / 'images'
    images.mkdir()
    for i in range(2):
        cv2.imwrite(str(images / f'{i}.png'), tile[i * 64:(i + 1) * 64, :64, ::-1])
    clip = FrozenCLIPFeatures('CLIP', 'ViT-B/16', str(TINY_PT), str(TINY_CFG))
    objective = SimFeatUpObjective(build_upsampler('jbu_one', 64, 16, allow_random=True), 64, 16)
    monkeypatch.setattr(trainer_module, 'init_distributed', lambda device: CUDA)
    monkeypatch.setattr(trainer_module, 'FrozenCLIPFeatures', lambda *args: clip)
    monkeypatch.setattr(trainer_module, 'SimFeatUpObjective', lambda *args: objective)
    real_jitter = trainer_module.sample_jitter

    def sample_jitter(*args, **kwargs):   # plain numbers drawn on the CPU: real ones, please
        with unset_fake_temporarily():
            return real_jitter(*args, **kwargs)
    monkeypatch.setattr(trainer_module, 'sample_jitter', sample_jitter)
    cfg = dict(pretrained=str(TINY_PT), model_cfg=str(TINY_CFG), data=str(images),
               work_dir=str(tmp_path / 'work'), crop_size=48, batch_size=2, n_jitters=2,
               num_workers=0, device='cuda')
    batch = torch.from_numpy(np.stack([tile[:48, :48], tile[48:96, :48]])).permute(0, 3, 1, 2)
    with fake_cuda():
        run = Run(cfg)
        with zero_grad_backward(run.params) as losses:
            sums = run.update(batch.contiguous())     # a uint8 batch from the CPU loader
        assert len(losses) == 2 and {t.device.type for t in losses} == {'cuda'}
        assert sums.device.type == 'cuda' and sums.shape == (2,)
        for p in run.params:
            assert is_fake(p) and p.device.type == 'cuda'
            assert run.optimizer.state[p]['exp_avg'].device.type == 'cuda'
