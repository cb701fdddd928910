"""bf16 on a full-size ViT-B/16 whose residual stream has CLIP's outlier channels (the fixture
models are 3 layers deep and have none): tests/outlier_vit.py builds it; the fp16/bf16 check on
CUDA is tests/gpu/test_outlier_vit_gpu.py."""
from __future__ import annotations

import pytest
import torch

import outlier_vit
from conftest import OEM_TILE, run_pipeline


@pytest.fixture(scope='module')
def model():
    return outlier_vit.outlier_segmentor(device='cpu')


def test_the_stream_has_outlier_channels(model):
    """The construction works: the outlier channels are ~two orders above the rest."""
    img = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    assert outlier_vit.stream_outlier_ratio(model, img) > 30


def test_bf16_agrees_with_fp32_on_the_outlier_vit(model):
    """bf16 (GEMMs in bf16, float32 stream and layer norms) keeps ≥ 99 % of the fp32 classes
    on one 224² crop of the demo tile; < 100 %: bf16 really ran."""
    rgb = outlier_vit.demo_crop(OEM_TILE, 224)
    agree = outlier_vit.pred_agreement(model, rgb, run_pipeline, ('bf16',))
    assert 0.99 <= agree['bf16'] < 1.0, agree
    assert model.precision_used == 'bf16'
