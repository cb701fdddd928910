"""fp16 and bf16 on CUDA against fp32 on a full-size ViT-B/16 with CLIP's outlier channels
(tests/outlier_vit.py), on a 448² crop of the demo tile: the table of docs/speed.md."""
from __future__ import annotations

import pytest

import outlier_vit
from conftest import OEM_TILE, model_device, run_pipeline

pytestmark = pytest.mark.gpu


def test_fp16_and_bf16_agree_with_fp32_on_the_outlier_vit(capsys):
    import torch
    model = outlier_vit.outlier_segmentor(device=model_device())
    rgb = outlier_vit.demo_crop(OEM_TILE, 448)
    agree = outlier_vit.pred_agreement(model, rgb, run_pipeline, ('fp16', 'bf16'))
    with capsys.disabled():
        print(f'\noutlier ViT-B/16 on {torch.cuda.get_device_name()}: pred agreement with fp32')
        for precision, value in agree.items():
            print(f'  {precision:<5} {value:8.4%}')
    for precision in ('fp16', 'bf16'):
        assert 0.99 <= agree[precision] < 1.0, agree     # < 1: autocast really ran
