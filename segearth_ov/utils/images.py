"""Reading user images for an RGB CLIP model, with clear errors and explicit band handling.

Band policy (what a remote-sensing user gets, and is told in the log):
- 1 band (e.g. SAR, panchromatic): replicated into 3 identical bands, as OpenCV's colour
  read does for the reference's 8-bit SAR sets;
- 2 bands: an error (which two bands should be RGB is not ours to guess);
- 3 bands: used as RGB;
- 4 bands: the 4th is dropped (RGBA alpha, or the NIR of an RGBN product), with a warning;
- more than 4: an error asking the user to pick three bands.
Non-8-bit data (uint16, float) is stretched to uint8 by a 2–98 % percentile stretch per band.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

logger = logging.getLogger('segearth_ov')


class ImageReadError(ValueError):
    """The file is missing or not an image this tool can read."""


def to_three_bands(img: np.ndarray, source: str = 'image') -> np.ndarray:
    """H×W or H×W×B array → H×W×3, following the band policy above."""
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3:
        raise ImageReadError(f'{source}: expected an H×W×bands image, got shape {img.shape}')
    bands = img.shape[2]
    if bands == 1:
        logger.info('%s has 1 band: replicated into 3 bands for the RGB model', source)
        return np.repeat(img, 3, axis=2)
    if bands == 3:
        return img
    if bands == 4:
        logger.warning('%s has 4 bands: using bands 1-3 as RGB and dropping band 4 '
                       '(alpha or NIR)', source)
        return img[..., :3]
    raise ImageReadError(f'{source} has {bands} bands; the CLIP model needs 3 (RGB). '
                         'Write a 3-band (or 1-band) image with the bands you want as R, G, B.')


def stretch_to_uint8(img: np.ndarray, low: float = 2, high: float = 98) -> np.ndarray:
    """uint8 stays as it is; other types get a per-band percentile stretch to 0–255."""
    if img.dtype == np.uint8:
        return img
    out = np.empty(img.shape, np.uint8)
    for b in range(img.shape[2]):
        band = img[..., b].astype(np.float64)
        finite = band[np.isfinite(band)]
        lo, hi = (np.percentile(finite, [low, high]) if finite.size else (0.0, 1.0))
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        out[..., b] = np.clip(np.nan_to_num((band - lo) * scale, nan=0.0), 0, 255).astype(np.uint8)
    return out


def decode_unchanged(data: bytes, filename: str = '') -> np.ndarray | None:
    """Decode image bytes with all bands at their own bit depth: H×W or H×W×B, RGB… order.

    TIFF through tifffile (bands-first TIFFs are moved to bands-last), everything else (and
    TIFFs tifffile cannot read, e.g. JPEG-compressed) through OpenCV. None if undecodable.
    """
    img = None
    if filename.lower().endswith(('.tif', '.tiff')):
        try:
            import io

            import tifffile
            img = tifffile.imread(io.BytesIO(data))
            if img.ndim == 3 and img.shape[0] < img.shape[2] and img.shape[0] <= 8:
                img = np.moveaxis(img, 0, -1)  # bands-first TIFF
        except Exception:
            img = None
    if img is None and data:
        import cv2
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if img is not None and img.ndim == 3 and img.shape[2] >= 3:
            img = img[..., [2, 1, 0] + list(range(3, img.shape[2]))]  # OpenCV gives BGR(A)
    return img


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8 H×W×3 (band policy and stretch above)."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f'image not found: {path}')
    img = decode_unchanged(path.read_bytes(), str(path))
    if img is None:
        raise ImageReadError(f'{path} is not an image that can be read (tried TIFF and '
                             'OpenCV formats: png, jpg, tif, bmp, …)')
    img = to_three_bands(np.asarray(img), str(path))
    return np.ascontiguousarray(stretch_to_uint8(img))
