"""The segmentor with the released optical defaults, built from class names alone.

Its home is the models layer so that every layer above builds it the same way: the Python API
(`segearth_ov.apis.init_segmentor`) and the scene predictor (`mapping.predictor.build_model`).
"""
from __future__ import annotations


def init_segmentor(classes, clip_type='CLIP', vit_type='ViT-B/16', model_type='SegEarth',
                   pretrained=None, model_cfg=None, upsampler='jbu_one', upsampler_ckpt=None,
                   device=None, **settings):
    """A SegEarthSegmentation with the released optical defaults (λ = -0.3, JBU_One).

    `classes` is a class-name file or a list of lines ('building,roof,house', 'road', …).
    `upsampler=None` turns SimFeatUp off.
    """
    from mmseg.registry import MODELS
    from . import segearth  # noqa: F401  (registers SegEarthSegmentation)
    cfg = dict(type='SegEarthSegmentation', clip_type=clip_type, vit_type=vit_type,
               model_type=model_type, pretrained=pretrained, model_cfg=model_cfg, device=device,
               cls_token_lambda=-0.3, prob_thd=0.0)
    if isinstance(classes, (list, tuple)):
        cfg['classes'] = list(classes)
    else:
        cfg['name_path'] = str(classes)
    if upsampler:
        # no checkpoint: the upsampler's released weights (downloaded on first use)
        cfg['feature_up_cfg'] = dict(model_name=upsampler, model_path=upsampler_ckpt)
    else:
        cfg['feature_up'] = False
    cfg.update(settings)
    return MODELS.build(cfg)
