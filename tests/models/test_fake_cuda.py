"""The segmentor on CUDA, checked for device mistakes without a GPU (tests/fake_cuda.py).

Inside `fake_cuda()` a model moved to 'cuda' runs every PyTorch op on fake tensors (shapes,
dtypes and devices, no data); an op that mixes devices raises, as it would on a GPU. The
C kernels and the CPU thread pool must stay out of the CUDA path, which must be the batched
SimFeatUp path with few ops per window.
"""
from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from conftest import tiny_segmentor
from fake_cuda import FakeTensorDeviceMismatchError, fake_cuda, is_fake
from segearth_ov.models.upsamplers import jbu
from segearth_ov.ops import cpu_kernels
from segearth_ov.utils import parallel

CLASSES = ['background', 'building,roof,house', 'road', 'tree,forest']   # with synonyms


class OpCounter(TorchDispatchMode):
    """Counts the aten ops that compute (each a kernel launch on a GPU): views and metadata
    queries excluded."""

    def __init__(self):
        super().__init__()
        self.ops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.namespace == 'aten' and not func.is_view:
            self.ops += 1
        return func(*args, **(kwargs or {}))


@pytest.fixture
def cpu_only_machinery_forbidden(monkeypatch):
    """The C kernels and parallel_map's thread pool raise if the CUDA path touches them."""
    def forbidden(*args, **kwargs):
        raise AssertionError('CPU-only machinery called on the CUDA path')
    for name in ('local_dot', 'upsample_and_weighted_sum', '_run_rows'):
        monkeypatch.setattr(cpu_kernels, name, forbidden)
    monkeypatch.setattr(parallel, '_executor', forbidden)
    monkeypatch.setattr(torch, 'get_num_threads', lambda: 2)   # the pool would be used on CPU


def _spy(monkeypatch, module, name):
    calls = []
    real = getattr(module, name)

    def spy(*args, **kwargs):
        calls.append(name)
        return real(*args, **kwargs)
    monkeypatch.setattr(module, name, spy)
    return calls


@pytest.mark.parametrize('upsampler, slide', [('jbu_one', True), ('jbu_stack', True),
                                               ('jbu_one', False), (None, True)])
def test_segmentor_runs_on_cuda_without_device_mistakes(upsampler, slide, monkeypatch,
                                                        cpu_only_machinery_forbidden):
    settings = dict(slide_crop=112, slide_stride=56) if slide else dict(slide_crop=0)
    if upsampler is None:
        model = tiny_segmentor(CLASSES, feature_up=False, device='cpu', **settings)
    else:
        model = tiny_segmentor(CLASSES, upsampler=upsampler, device='cpu', **settings)
    batched = _spy(monkeypatch, jbu, 'adaptive_conv_unfold')
    dots = _spy(monkeypatch, jbu, 'neighbour_dot_unfold')
    with fake_cuda() as device:
        model.to(device)
        img = torch.randn(1, 3, 176, 160, device=device)
        logits = model.image_logits(img)
        assert is_fake(logits) and logits.device.type == 'cuda'
        assert logits.shape == (1, len(model.class_names.queries), 176, 160)
        preds = model.predict(img)                       # the mmseg predict path
        assert preds.device.type == 'cuda' and preds.shape == (1, 176, 160)
    if upsampler is not None:
        assert batched and dots            # the batched SimFeatUp path was chosen


def test_predict_with_data_samples_on_cuda():
    from mmseg.structures import SegDataSample
    model = tiny_segmentor(CLASSES, slide_crop=112, slide_stride=56, device='cpu')
    with fake_cuda() as device:
        model.to(device)
        bgr = torch.randint(0, 255, (3, 120, 130), dtype=torch.uint8)     # a loader's CPU image
        sample = SegDataSample(metainfo=dict(ori_shape=(240, 260), img_shape=(120, 130)))
        data = model.data_preprocessor(dict(inputs=[bgr], data_samples=[sample]), False)
        out = model.predict(data['inputs'], data['data_samples'])[0]
        assert out.seg_logits.data.shape == (4, 240, 260)
        assert out.pred_sem_seg.data.device.type == 'cuda'


def test_class_step_with_cpu_logits_from_elsewhere_on_a_cuda_model():
    """Regression (issue 19, item 1): the scene predictor blends logits on the CPU and hands
    them to `class_probabilities`, which scattered them with the model's CUDA `query_idx`."""
    model = tiny_segmentor(CLASSES, device='cpu')
    q = len(model.class_names.queries)
    with fake_cuda() as device:
        model.to(device)
        assert model.query_idx.device.type == 'cuda'
        for where in ('cpu', device):
            probs = model.class_probabilities(torch.randn(q, 6, 7, device=where))
            labels = model.labels(probs)
            assert probs.shape == (4, 6, 7) and probs.device.type == where
            assert labels.shape == (1, 6, 7) and labels.device.type == where


def test_mixed_devices_do_raise_in_fake_cuda():
    """The check the tests above rely on: fake_cuda() really catches a device mistake."""
    with fake_cuda() as device:
        with pytest.raises(FakeTensorDeviceMismatchError):
            torch.ones(3, device=device) + torch.ones(3)


def test_fp16_autocast_is_on_for_the_vit_on_cuda():
    """precision='auto' is fp16 autocast on CUDA: the ViT's features come out in half."""
    model = tiny_segmentor(CLASSES, feature_up=False, device='cpu')
    with fake_cuda() as device:
        model.to(device)
        with model._autocast():
            _, feats = model.image_encoder(torch.randn(1, 3, 64, 64, device=device))
        assert feats.dtype == torch.float16


def test_cuda_window_takes_few_ops():
    """On a GPU every op is a kernel launch: one 224 window with SimFeatUp (shared kernels
    for a 336² image: 4 windows) must take a few hundred ops (measured: 330), not the CPU
    path's thousands (4317 per window before the batched path)."""
    model = tiny_segmentor(CLASSES, device='cpu')
    with fake_cuda() as device:
        model.to(device)
        img = torch.randn(1, 3, 336, 336, device=device)
        with OpCounter() as counter:
            model.image_logits(img)
    per_window = counter.ops / 4
    assert per_window < 600, f'{per_window:.0f} ops per window'


class MatmulDtypes(TorchDispatchMode):
    """The dtypes the matrix products (the ViT's GEMMs among them) compute in."""

    def __init__(self):
        super().__init__()
        self.dtypes = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func.__name__.split('.')[0] in ('addmm', 'mm', 'bmm', 'baddbmm'):
            self.dtypes.add(out.dtype)
        return out


def test_the_default_precision_runs_the_vits_products_in_fp16_on_cuda():
    """Issue 29 item 6: the default precision ('auto') is fp16 autocast on CUDA on the path
    mmseg's predict takes, not only in `_autocast()`: matrix products run in half precision
    (the ViT's; SimFeatUp and the logits stay float32); 'fp32' has none in half."""
    dtypes = {}
    for precision in ('auto', 'fp32'):
        settings = {} if precision == 'auto' else dict(precision=precision)
        model = tiny_segmentor(CLASSES, device='cpu', **settings)
        assert model.precision == precision          # 'auto' is what the segmentor defaults to
        with fake_cuda() as device:
            model.to(device)
            img = torch.randn(1, 3, 112, 112, device=device)
            with MatmulDtypes() as seen:
                model.predict(img)
        dtypes[precision] = seen.dtypes
    assert torch.float16 in dtypes['auto'] and torch.float32 in dtypes['auto']
    assert dtypes['fp32'] == {torch.float32}


def test_text_seconds_wait_for_the_gpu_the_text_tower_runs_on(monkeypatch):
    """Issue 29 item 5: `text_seconds` stopped the clock while the text tower's kernels could
    still be queued; it now waits for the model's own GPU (here cuda:1). The text tower
    reads its tokens' values (the end-of-text position), which fake tensors lack: its
    output is stood for by a tensor made on that GPU."""
    model = tiny_segmentor(CLASSES, device='cpu', text_cache=False)
    width = model.query_features.shape[1]
    waited = []
    monkeypatch.setattr(torch.cuda, 'synchronize', lambda device=None: waited.append(device))
    gpu1 = torch.device('cuda', 1)
    with fake_cuda():
        model.to(gpu1)
        clip = model._embedder.model
        # a fake tensor moves once only (its visual tower just moved with the image side)
        monkeypatch.setattr(clip, 'to', lambda *args, **kwargs: clip)
        monkeypatch.setattr(model._embedder, 'compute',
                            lambda queries, device: torch.randn(len(queries), width,
                                                                device=device))
        model.set_classes(['water,river', 'road'])
        assert model.device == gpu1 and model.query_features.shape == (3, width)
    assert waited == [gpu1]
