"""HG-RSOVSSeg on 'cuda' without a GPU (tests/fake_cuda.py): a training step through
mmengine's train_step (data preprocessor, loss, optimiser; the backward gives zero
gradients, see tests/fake_cuda_grads.py) and predict, on the tiny fixture CLIP built on the
CPU. A tensor left on the wrong device raises FakeTensorDeviceMismatchError."""
from __future__ import annotations

import contextlib

import pytest
import torch
from mmengine.optim import OptimWrapper
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from fake_cuda import fake_cuda, is_fake
from fake_cuda_grads import zero_grad_backward
from hg_helpers import tiny_hg


def _batch(size=32, n=2, classes=3):
    samples = []
    for _ in range(n):
        s = SegDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size)))
        s.gt_sem_seg = PixelData(data=torch.randint(0, classes, (1, size, size)))
        samples.append(s)
    inputs = [torch.randint(0, 255, (3, size, size), dtype=torch.uint8) for _ in range(n)]
    return dict(inputs=inputs, data_samples=samples)


@contextlib.contextmanager
def fake_cuda_with_scalars():
    """`fake_cuda` whose `.item()` gives a symbolic number instead of failing: mmseg's
    cross-entropy (avg_non_ignore, HG's default) counts the labelled pixels with `.item()`."""
    from torch.fx.experimental.symbolic_shapes import ShapeEnv
    with fake_cuda() as device:
        mode = torch._guards.detect_fake_mode()
        mode.shape_env = ShapeEnv(allow_scalar_outputs=True)
        yield device


@pytest.mark.parametrize('options', [{}, dict(fa='cost', text_trainable=('attn',))])
def test_training_step_and_predict_on_cuda(options):
    model = tiny_hg(['red', 'green,lime', 'blue'], **options)   # text embeddings made on the CPU
    data = _batch()
    with fake_cuda_with_scalars() as device:
        model.to(device)
        # the label check reads a value (one host sync), which a fake tensor does not have;
        # it is exercised on the CPU below
        model._check_labels = lambda labels, valid: None
        params = [p for p in model.parameters() if p.requires_grad]
        optim = OptimWrapper(torch.optim.AdamW(params, lr=1e-3))
        model.train()
        with zero_grad_backward(params) as backward:
            losses = model.train_step(data, optim)
        assert backward[0].device.type == 'cuda'
        assert losses['loss'].device.type == 'cuda'
        p = next(p for p in model.decode.parameters())
        assert is_fake(p) and optim.optimizer.state[p]['exp_avg'].device.type == 'cuda'
        model.eval()
        batch = model.data_preprocessor(_batch(n=1), False)
        out = model.predict(batch['inputs'], batch['data_samples'])[0]
        assert out.seg_logits.data.shape == (3, 32, 32)
        assert out.pred_sem_seg.data.device.type == 'cuda'
        assert model.image_logits(batch['inputs']).shape == (1, 3, 32, 32)


def test_labels_beyond_the_classes_are_named():
    model = tiny_hg(['red', 'green'])
    data = model.data_preprocessor(_batch(classes=3), True)
    data['data_samples'][0].gt_sem_seg.data[0, 0, 0] = 2
    with pytest.raises(ValueError, match='label value 2 but the model has 2 classes'):
        model.loss(data['inputs'], data['data_samples'])
