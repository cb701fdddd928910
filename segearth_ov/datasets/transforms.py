"""Loading SAR (and other non-8-bit) images for the RGB CLIP model.

`LoadSARImageFromFile` is a drop-in replacement for mmcv's `LoadImageFromFile` in a test
pipeline. It decides from the file's own sample type and band count:

- **8-bit with 1, 3 or 4 bands** (every released SAR set: jpg/png/tif): decoded exactly as
  `LoadImageFromFile` does (OpenCV colour read: 1 band replicated into 3, BGR order, a
  4th band dropped). The array is byte-identical to `LoadImageFromFile`'s, so the SAR
  configs reproduce the reference numbers.
- **16-bit, 32-bit or float** (e.g. calibrated SAR amplitude, intensity or dB): read with all
  its bits (tifffile for TIFF, OpenCV `IMREAD_UNCHANGED` otherwise), optionally turned into
  dB (`linear_to_db=True`, for linear power/intensity), brought to 3 bands with
  `segearth_ov.utils.images.to_uint8_rgb` — the conversion inference, the GeoTIFF predictor
  and AlignEarth training also use (1 band replicated, a 4th dropped, 2 or >4 bands an error;
  a 2–98 % percentile stretch per band; NaN/inf → 0). Returned in BGR order like
  `LoadImageFromFile`.
- **8-bit with 2 or more than 4 bands**: the band policy of `to_three_bands` (a clear error).

The result is always uint8 H×W×3 BGR, so `SegDataPreProcessor(bgr_to_rgb=True)` and the
segmentor see what they see for optical images.
"""
from __future__ import annotations

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmseg.registry import TRANSFORMS

from ..utils.images import decode_unchanged, to_uint8_rgb


def sar_to_uint8_bgr(img: np.ndarray, source: str = 'image', linear_to_db: bool = False,
                     percentiles=(2, 98)) -> np.ndarray:
    """A 1/3/4-band (RGB-ordered) array of any sample type → uint8 H×W×3 BGR."""
    rgb = to_uint8_rgb(img, source, percentiles=percentiles, to_db=linear_to_db)
    return np.ascontiguousarray(rgb[..., ::-1])


@TRANSFORMS.register_module()
class LoadSARImageFromFile(LoadImageFromFile):
    """`LoadImageFromFile` that also reads 16-bit / float / 1-band SAR as 8-bit 3-band BGR.

    Args (besides `LoadImageFromFile`'s):
        linear_to_db: take 10·log10 of non-8-bit values before the stretch (for linear
            power/intensity data; leave False for data already in dB or amplitude).
        percentiles: (low, high) percentiles of the per-band linear stretch to 0–255.
    """

    def __init__(self, linear_to_db: bool = False, percentiles=(2, 98), **kwargs):
        super().__init__(**kwargs)
        self.linear_to_db = linear_to_db
        self.percentiles = tuple(percentiles)

    def transform(self, results: dict) -> dict | None:
        filename = results['img_path']
        try:
            img_bytes = fileio.get(filename, backend_args=self.backend_args)
            raw = decode_unchanged(img_bytes, filename)
            if raw is None:
                raise ValueError(f'failed to decode image {filename}')
            bands = 1 if raw.ndim == 2 else raw.shape[2]
            if raw.dtype == np.uint8 and bands in (1, 3, 4):
                # exactly LoadImageFromFile's decoding: byte-identical 8-bit input
                img = mmcv.imfrombytes(img_bytes, flag=self.color_type,
                                       backend=self.imdecode_backend)
            else:
                img = sar_to_uint8_bgr(raw, filename, self.linear_to_db, self.percentiles)
        except Exception:
            if self.ignore_empty:
                return None
            raise
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self):
        return (f'{self.__class__.__name__}(linear_to_db={self.linear_to_db}, '
                f'percentiles={self.percentiles}, color_type={self.color_type!r}, '
                f'imdecode_backend={self.imdecode_backend!r})')
