"""Segment one image from Python: build the segmentor, feed an image as the eval pipeline does."""
from __future__ import annotations

import numpy as np
import torch

from ..utils.images import read_image


def init_segmentor(classes, clip_type='CLIP', vit_type='ViT-B/16', model_type='SegEarth',
                   pretrained=None, model_cfg=None, upsampler='jbu_one', upsampler_ckpt=None,
                   device=None, **settings):
    """A SegEarthSegmentation with the released optical defaults (λ = -0.3, JBU_One).

    `classes` is a class-name file or a list of lines ('building,roof,house', 'road', …).
    `upsampler=None` turns SimFeatUp off.
    """
    from mmseg.registry import MODELS
    import segearth_ov  # noqa: F401
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


@torch.no_grad()
def inference_image(model, image, size: int = 448):
    """(labels H×W uint8, probs C×H×W float32) at the image's own resolution: the order and
    label type of `segearth_ov.predict(..., return_probs=True)` (uint16 labels for more than
    255 classes).

    `image` is a path or an RGB uint8 H×W×3 array. Like the evaluation configs, the model
    sees the image rescaled so that its long side is `size` (0: as it is).
    """
    import mmcv
    from mmseg.structures import SegDataSample
    rgb = read_image(image) if not isinstance(image, np.ndarray) else image
    h, w = rgb.shape[:2]
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    if size:
        bgr = mmcv.imrescale(bgr, (size, size), interpolation='bilinear')
    sample = SegDataSample(metainfo=dict(ori_shape=(h, w), img_shape=bgr.shape[:2]))
    data = model.data_preprocessor(
        dict(inputs=[torch.from_numpy(bgr.transpose(2, 0, 1).copy())], data_samples=[sample]),
        training=False)
    out = model.predict(data['inputs'], data['data_samples'])[0]
    probs = out.seg_logits.data.float().cpu().numpy()
    labels = out.pred_sem_seg.data[0].cpu().numpy()
    return labels.astype(np.uint8 if len(probs) <= 255 else np.uint16), probs
