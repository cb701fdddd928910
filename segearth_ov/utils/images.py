"""Reading user images for an RGB CLIP model, with clear errors and explicit band handling.

Band policy (what a remote-sensing user gets, and is told in the log):
- 1 band (e.g. SAR, panchromatic): replicated into 3 identical bands, as OpenCV's colour
  read does for the reference's 8-bit SAR sets;
- 2 bands: an error (which two bands should be RGB is not ours to guess);
- 3 bands: used as RGB;
- 4 bands: the 4th is dropped (RGBA alpha, or the NIR of an RGBN product), with a warning;
- more than 4: an error asking the user to pick three bands.
Non-8-bit data (uint16, float) is stretched to uint8 by a 2–98 % percentile stretch per band
(`to_uint8_rgb`, the one conversion every reader of this package uses).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

logger = logging.getLogger('segearth_ov')

# Files taken as images when a folder is listed. PIL reads these (the trainers' image lists);
# the scene predictor reads through GDAL, which adds JPEG 2000, ERDAS Imagine and VRT mosaics.
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp', '.webp')
RASTER_SUFFIXES = ('.tif', '.tiff', '.png', '.jpg', '.jpeg', '.jp2', '.img', '.vrt', '.bmp')


class ImageReadError(ValueError):
    """The file is missing or not an image this tool can read."""


def parse_bands(text, what: str = '--bands') -> tuple[int, ...] | None:
    """'3,2,1' → (3, 2, 1); None or '' → None. ValueError naming `what` for anything else
    (how many bands a reader accepts, and which exist, is checked where the image is read)."""
    if text in (None, ''):
        return None
    try:
        return tuple(int(b) for b in str(text).split(','))
    except ValueError:
        raise ValueError(f'{what} {text!r}: give band numbers from 1, separated by commas, '
                         'e.g. 3,2,1') from None


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


def valid_mask(img: np.ndarray, nodata: float | None = None) -> np.ndarray:
    """H×W bool: pixels that are finite in every band and not `nodata` in all bands."""
    img = img if img.ndim == 3 else img[..., None]
    valid = np.ones(img.shape[:2], bool)
    if img.dtype.kind == 'f':
        valid &= np.isfinite(img).all(axis=2)
    if nodata is not None:
        nd = np.isnan(img).all(axis=2) if np.isnan(nodata) else (img == nodata).all(axis=2)
        valid &= ~nd
    return valid


def percentile_range(img: np.ndarray, low: float = 2, high: float = 98,
                     nodata: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-band (lo, hi) percentiles over the valid pixels (finite, not nodata).

    Computed once per scene (on an overview for large rasters) and passed to
    `apply_stretch`, so that tiles of one scene share one stretch and show no seams.
    """
    img = img if img.ndim == 3 else img[..., None]
    valid = valid_mask(img, nodata)
    lo, hi = np.zeros(img.shape[2]), np.ones(img.shape[2])
    for b in range(img.shape[2]):
        band = img[..., b][valid].astype(np.float64)
        band = band[np.isfinite(band)]
        if band.size:
            lo[b], hi[b] = np.percentile(band, [low, high])
    return lo, hi


def apply_stretch(img: np.ndarray, lo, hi) -> np.ndarray:
    """Linear per-band map of [lo, hi] to [0, 255], rounded and clipped; NaN → 0. uint8."""
    img = img if img.ndim == 3 else img[..., None]
    out = np.empty(img.shape, np.uint8)
    for b in range(img.shape[2]):
        scale = 255.0 / (hi[b] - lo[b]) if hi[b] > lo[b] else 0.0
        band = (img[..., b].astype(np.float64) - lo[b]) * scale
        out[..., b] = np.clip(np.rint(np.nan_to_num(band, nan=0.0, posinf=255.0, neginf=0.0)),
                              0, 255).astype(np.uint8)
    return out


def stretch_to_uint8(img: np.ndarray, low: float = 2, high: float = 98,
                     nodata: float | None = None) -> np.ndarray:
    """uint8 stays as it is; other types get a per-band percentile stretch to 0–255."""
    if img.dtype == np.uint8:
        return img
    return apply_stretch(img, *percentile_range(img, low, high, nodata))


def linear_to_db(img: np.ndarray) -> np.ndarray:
    """10·log10 of linear SAR power/intensity (values ≤ 0 floored at 1e-10 → −100 dB)."""
    return 10.0 * np.log10(np.maximum(img.astype(np.float64), 1e-10))


def to_uint8_rgb(img: np.ndarray, source: str = 'image', *, nodata: float | None = None,
                 percentiles=(2, 98), to_db: bool = False, value_range=None) -> np.ndarray:
    """THE conversion of any raster (optical or SAR) to the model's uint8 H×W×3 RGB input.

    Used alike by inference, evaluation (`LoadSARImageFromFile`), the GeoTIFF predictor and
    AlignEarth training, so a SAR encoder sees at inference what it saw in training:
    1. bands: `to_three_bands` (1 band replicated — the SAR case —, a 4th dropped);
    2. 8-bit data is used as it is (the released SAR sets are 8-bit amplitude images);
    3. otherwise (16-bit, float: amplitude, intensity or dB), optionally `to_db` for linear
       power/intensity, then a per-band `percentiles` stretch over the valid pixels
       (finite, not `nodata`) — or over a given `value_range=(lo, hi)` per band, e.g.
       scene-wide figures from `percentile_range` when a scene is processed in tiles.
    """
    img = to_three_bands(np.asarray(img), source)
    if img.dtype == np.uint8:
        return np.ascontiguousarray(img)
    if to_db:
        valid = valid_mask(img, nodata)
        img = linear_to_db(img)
        img[~valid] = np.nan
        nodata = None
    if value_range is None:
        value_range = percentile_range(img, *percentiles, nodata=nodata)
    return np.ascontiguousarray(apply_stretch(img, *value_range))


EXIF_ORIENTATION_TAG = 0x0112


def exif_orientation(source) -> int:
    """The EXIF/TIFF Orientation (1–8) of an image file or its bytes; 1 when it has none or
    cannot be read. Photo viewers and OpenCV's colour read (mmcv, the eval loader) turn the
    pixels by it, so every reader of plain images here does too (`apply_orientation`)."""
    import io
    import warnings
    try:
        from PIL import Image
        with warnings.catch_warnings():     # only the header is read: no decompression bomb
            warnings.simplefilter('ignore')
            with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as im:
                value = int(im.getexif().get(EXIF_ORIENTATION_TAG, 1))
    except Exception:       # not a format PIL knows (VRT, ERDAS, …), or a broken EXIF block
        return 1
    return value if 1 <= value <= 8 else 1


def apply_orientation(img: np.ndarray, orientation: int) -> np.ndarray:
    """An H×W(×B) array as it is displayed under EXIF `orientation` (2: mirrored, 3: 180°,
    4: flipped, 5: transposed, 6: 90° clockwise, 7: transversed, 8: 90° counter-clockwise)."""
    if orientation in (5, 6, 7, 8):
        img = np.swapaxes(img, 0, 1)         # transpose: orientation 5
        img = {5: img, 6: img[:, ::-1], 7: img[::-1, ::-1], 8: img[::-1]}[orientation]
    elif orientation in (2, 3, 4):
        img = {2: img[:, ::-1], 3: img[::-1, ::-1], 4: img[::-1]}[orientation]
    return np.ascontiguousarray(img)


def decode_unchanged(data: bytes, filename: str = '') -> np.ndarray | None:
    """Decode image bytes with all bands at their own bit depth: H×W or H×W×B, RGB… order.

    TIFF through tifffile (bands-first TIFFs are moved to bands-last), everything else (and
    TIFFs tifffile cannot read, e.g. JPEG-compressed) through OpenCV. The pixels are turned
    by the EXIF orientation, as mmcv's colour read does. None if undecodable.
    """
    img = None
    tiff = filename.lower().endswith(('.tif', '.tiff'))
    if tiff:
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
        if tiff:            # OpenCV's TIFF decoder turns the pixels itself
            return img
    if img is None:
        return None
    return apply_orientation(img, exif_orientation(data))


def read_image(path: str | Path, **convert) -> np.ndarray:
    """Read an image file as RGB uint8 H×W×3 (`to_uint8_rgb`; `convert` goes to it)."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f'image not found: {path}')
    img = decode_unchanged(path.read_bytes(), str(path))
    if img is None:
        raise ImageReadError(f'{path} is not an image that can be read (tried TIFF and '
                             'OpenCV formats: png, jpg, tif, bmp, …)')
    return to_uint8_rgb(img, str(path), **convert)
