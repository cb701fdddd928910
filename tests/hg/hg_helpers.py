"""Helpers of the HG-RSOVSSeg tests (not a conftest: tests/conftest.py stays the only one)."""
from __future__ import annotations

import numpy as np
from PIL import Image

from conftest import TINY_CFG, TINY_PT

COLOURS = {'red': (220, 30, 30), 'green': (30, 200, 40), 'blue': (40, 60, 230)}


def tiny_hg(classes, **settings):
    """HGRSOVSeg on the tiny fixture CLIP, built through mmseg's MODELS."""
    import segearth_ov  # noqa: F401
    from mmseg.registry import MODELS
    cfg = dict(type='HGRSOVSeg', classes=None if classes is None else list(classes), clip_type='CLIP', vit_type='ViT-B/16',
               pretrained=str(TINY_PT), model_cfg=str(TINY_CFG), c_k=32, c_o=(16, 8))
    cfg.update(settings)
    return MODELS.build(cfg)


def save_trained(model, classes, folder):
    """A tiny HGRSOVSeg saved as tools/train.py leaves it: (config .py, checkpoint .pth)."""
    import torch
    ckpt = folder / 'iter_10.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    cfg = folder / 'hg_tiny.py'
    cfg.write_text(
        f"model = dict(type='HGRSOVSeg', classes={list(classes)!r}, clip_type='CLIP', "
        f"vit_type='ViT-B/16', pretrained={str(TINY_PT)!r}, model_cfg={str(TINY_CFG)!r}, "
        f"c_k=32, c_o=(16, 8), test_cfg=dict(mode='whole'))\n")
    return cfg, ckpt


def write_shapes_dataset(root, n_images=12, size=64, seed=0):
    """Coloured rectangles named red/green/blue on grey noise.

    Labels: 0 = noise (background, ignored via reduce_zero_label), 1..3 = red, green, blue.
    Returns the class-name file path (the three colour names, label order 1..3).
    """
    rng = np.random.default_rng(seed)
    (root / 'images').mkdir(parents=True, exist_ok=True)
    (root / 'labels').mkdir(parents=True, exist_ok=True)
    names = list(COLOURS)
    for i in range(n_images):
        img = rng.integers(60, 190, (size, size, 1)).repeat(3, axis=2).astype(np.uint8)
        img = np.clip(img + rng.integers(-25, 25, img.shape), 0, 255).astype(np.uint8)
        lab = np.zeros((size, size), np.uint8)
        for k in rng.permutation(3):
            h, w = rng.integers(size // 4, size // 2, 2)
            y, x = rng.integers(0, size - h), rng.integers(0, size - w)
            img[y:y + h, x:x + w] = COLOURS[names[k]]
            lab[y:y + h, x:x + w] = k + 1
        Image.fromarray(img).save(root / 'images' / f'{i:03d}.png')
        Image.fromarray(lab).save(root / 'labels' / f'{i:03d}.png')
    (root / 'classes.txt').write_text('\n'.join(names) + '\n')
    return root / 'classes.txt'
