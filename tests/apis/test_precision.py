"""The ViT's precision in the mapping tools: what 'auto' resolves to, --precision, and the
precision recorded in every output (docs/speed.md § Precision)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import JBU_CKPT, TINY_CFG, TINY_PT, tiny_segmentor

FIXTURE = ['--pretrained', str(TINY_PT), '--model-cfg', str(TINY_CFG),
           '--upsampler-ckpt', str(JBU_CKPT['jbu_one']), '--device', 'cpu']


def _png(tmp_path):
    from PIL import Image
    rgb = np.random.default_rng(0).integers(0, 255, (96, 112, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / 'img.png')
    return tmp_path / 'img.png'


def _predict(tmp_path, *flags):
    from segearth_ov.mapping.cli import main
    out = tmp_path / 'out'
    assert main([str(_png(tmp_path)), '--classes', 'a;b;c', *FIXTURE, *flags,
                 '--out', str(out), '--quiet']) == 0
    return json.loads((out / 'img_summary.json').read_text())['model']


@pytest.mark.parametrize('native, used', [(True, 'bf16'), (False, 'fp32')])
def test_auto_is_bf16_on_a_cpu_with_native_bf16_and_recorded(tmp_path, monkeypatch, native, used):
    """tools/predict.py without --precision: bf16 where the CPU has it natively, else fp32;
    the summary says which."""
    from segearth_ov.utils import precision
    monkeypatch.setattr(precision, 'native_bf16', lambda: native)
    assert _predict(tmp_path)['precision'] == used


def test_precision_flag_is_used_and_recorded(tmp_path, monkeypatch):
    from segearth_ov.utils import precision
    monkeypatch.setattr(precision, 'native_bf16', lambda: True)
    assert _predict(tmp_path, '--precision', 'fp32')['precision'] == 'fp32'


def test_python_predict_resolves_auto_like_the_cli(monkeypatch):
    """segearth_ov.predict builds through the same `build_model`: bf16 on a native-bf16 CPU."""
    from segearth_ov.mapping import predictor
    from segearth_ov.utils import precision
    monkeypatch.setattr(precision, 'native_bf16', lambda: True)
    model = predictor.build_model('a;b', pretrained=str(TINY_PT), model_cfg=str(TINY_CFG),
                                  upsampler_ckpt=str(JBU_CKPT['jbu_one']), device='cpu')
    assert model.precision_used == 'bf16'


def test_the_segmentor_keeps_fp32_for_auto_on_cpu(monkeypatch):
    """eval.py and the paper tables build the segmentor directly: its 'auto' stays fp32 on a
    CPU, native bf16 or not (they reproduce the papers)."""
    from segearth_ov.utils import precision
    monkeypatch.setattr(precision, 'native_bf16', lambda: True)
    assert tiny_segmentor(['a', 'b'], device='cpu').precision_used == 'fp32'


def test_overlay_title_names_a_lower_precision():
    from segearth_ov.mapping.outputs import overlay_title
    assert overlay_title(tiny_segmentor(['a', 'b'], precision='bf16')).endswith(' · ViT bf16')
    assert 'ViT fp' not in overlay_title(tiny_segmentor(['a', 'b'], precision='fp32'))


def test_low_precision_weights_are_cast_once_and_follow_changes():
    """The bf16 ViT reads cached bf16 weights (autocast casts them again in every forward);
    a changed weight is cast again, so results never use a stale copy."""
    model = tiny_segmentor(['a', 'b'], precision='bf16', feature_up=False, device='cpu')
    enc = model.image_encoder
    img = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        first = enc(img, dtype=torch.bfloat16)[1]
        copies = enc.low_precision(torch.bfloat16)
        cached = dict(copies._copies)
        again = enc(img, dtype=torch.bfloat16)[1]
        assert all(copies._copies[k][1] is v[1] for k, v in cached.items())
        assert torch.equal(first, again) and first.dtype == torch.float32
        enc.visual.proj.mul_(2)
        doubled = enc(img, dtype=torch.bfloat16)[1]
    assert torch.allclose(doubled, 2 * first, rtol=1e-2, atol=1e-3)
