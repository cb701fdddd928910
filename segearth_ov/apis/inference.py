"""Segment one image from Python: build the segmentor, feed an image as the eval pipeline does."""
from __future__ import annotations

import numpy as np
import torch

from ..models.segmentors.released import init_segmentor  # noqa: F401  (the API's name for it)
from ..utils.images import read_image
from ..mapping.sources import is_url


@torch.no_grad()
def inference_image(model, image, size: int = 448):
    """(labels H×W uint8, probs C×H×W float32) at the image's own resolution: the order and
    label type of `segearth_ov.predict(..., return_probs=True)` (uint16 labels for more than
    255 classes).

    `image` is a path, a URL (https://, s3://, gs://, az://) or an RGB uint8 H×W×3 array. Like the evaluation configs, the model
    sees the image rescaled so that its long side is `size` (0: as it is).
    """
    import mmcv
    from mmseg.structures import SegDataSample
    if isinstance(image, np.ndarray):
        rgb = image
    elif is_url(image):           # https://, s3://, gs://, az://: read through GDAL
        from ..mapping.sources import read_rgb
        rgb = read_rgb(image)
    else:
        rgb = read_image(image)
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
