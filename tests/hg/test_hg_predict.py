"""A trained HG-RSOVSSeg model maps images through the predictor (--config … --checkpoint …)."""
import numpy as np
import pytest
import torch

from conftest import TINY_CFG, TINY_PT
from hg_helpers import tiny_hg

CLASSES = ['red', 'green', 'blue']


def write_trained(tmp_path):
    """A config and a checkpoint whose decoder differs from a fresh build (seeded noise)."""
    model = tiny_hg(CLASSES)
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not name.startswith('image_encoder') and p.requires_grad:
                p.add_(torch.randn(p.shape, generator=g) * 0.5)
    ckpt = tmp_path / 'iter_10.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    cfg = tmp_path / 'hg_tiny.py'
    cfg.write_text(
        f"model = dict(type='HGRSOVSeg', classes={CLASSES!r}, clip_type='CLIP', "
        f"vit_type='ViT-B/16', pretrained={str(TINY_PT)!r}, model_cfg={str(TINY_CFG)!r}, "
        f"c_k=32, c_o=(16, 8), test_cfg=dict(mode='whole'))\n")
    return model.eval(), cfg, ckpt


def test_predictor_runs_the_trained_model_from_its_checkpoint(tmp_path):
    import segearth_ov
    trained, cfg, ckpt = write_trained(tmp_path)
    rgb = np.random.default_rng(0).integers(0, 255, (64, 80, 3), dtype=np.uint8)
    out = segearth_ov.predict(rgb, 'red;green;blue', config=str(cfg), checkpoint=str(ckpt))
    labels = out if isinstance(out, np.ndarray) else out[0]

    bgr = torch.from_numpy(np.ascontiguousarray(rgb[..., ::-1].transpose(2, 0, 1)))
    inputs = trained.data_preprocessor(dict(inputs=[bgr]), training=False)['inputs']
    with torch.no_grad():
        expected = trained.labels(trained.class_probabilities(trained.image_logits(inputs)[0]))
    assert labels.shape == (64, 80)
    assert (labels == expected[0].numpy()).mean() > 0.999
    fresh = tiny_hg(CLASSES).eval()
    with torch.no_grad():
        untrained = fresh.labels(fresh.class_probabilities(fresh.image_logits(inputs)[0]))
    assert (labels != untrained[0].numpy()).any()   # the checkpoint's weights were used


def test_checkpoint_needs_its_config_and_a_trained_config_needs_its_checkpoint(tmp_path):
    from segearth_ov.apis.predict import build_model
    _, cfg, ckpt = write_trained(tmp_path)
    with pytest.raises(ValueError, match='--checkpoint needs the --config'):
        build_model('red;green', checkpoint=str(ckpt))
    with pytest.raises(ValueError, match='give its weights with --checkpoint'):
        build_model('red;green', config=str(cfg))
