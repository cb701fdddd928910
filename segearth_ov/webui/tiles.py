"""Map pictures of a scene and of its class map: web-mercator tiles (georeferenced scenes)
and one decimated image (plain images, shown in an image view).

Why rasterio and not one big PNG: a tile reads only the source window under it, decimated
to at most `MAX_READ` pixels a side (GDAL uses the overviews the predictor writes), then
reprojects that small array to the 256² tile — memory and time per tile stay bounded
whatever the scene's size.
"""
from __future__ import annotations

import io
import math

import numpy as np

TILE = 256
MAX_READ = 512
ORIGIN = 20037508.342789244          # half the web-mercator world, metres
MAX_ZOOM = 24


def png_bytes(rgba: np.ndarray) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(rgba, 'RGBA').save(buf, format='PNG', compress_level=1)
    return buf.getvalue()


def mercator_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) in EPSG:3857 of the XYZ tile z/x/y."""
    if not (0 <= z <= MAX_ZOOM and 0 <= x < 2 ** z and 0 <= y < 2 ** z):
        from .safety import RequestError
        raise RequestError(f'tile {z}/{x}/{y} does not exist (zoom 0–{MAX_ZOOM}, x and y '
                           'below 2^zoom)', 404)
    size = 2 * ORIGIN / 2 ** z
    left, top = -ORIGIN + x * size, ORIGIN - y * size
    return left, top - size, left + size, top


def geographic_bounds(src) -> list[list[float]]:
    """[[south, west], [north, east]] of a georeferenced dataset (Leaflet's fitBounds)."""
    from rasterio.warp import transform_bounds
    w, s, e, n = transform_bounds(src.crs, 'EPSG:4326', *src.bounds, densify_pts=21)
    return [[s, w], [n, e]]


def warp_tile(src, bands, z, x, y, resampling='nearest', src_nodata=None):
    """(bands×256×256 array in the source's dtype, 256×256 covered mask) of one tile, or
    None when the tile misses the scene."""
    from rasterio.enums import Resampling
    from rasterio.transform import from_bounds
    from rasterio.warp import reproject, transform_bounds
    from rasterio.windows import Window, from_bounds as window_from_bounds
    left, bottom, right, top = mercator_bounds(z, x, y)
    try:
        b = transform_bounds('EPSG:3857', src.crs, left, bottom, right, top, densify_pts=21)
    except Exception:       # noqa: BLE001  (outside the CRS's domain)
        return None
    if not all(map(math.isfinite, b)):
        return None
    win = window_from_bounds(*b, transform=src.transform)
    full = Window(0, 0, src.width, src.height)
    try:
        win = win.intersection(full)
    except Exception:       # noqa: BLE001  (rasterio: windows do not intersect)
        return None
    c0, r0 = max(0, math.floor(win.col_off)), max(0, math.floor(win.row_off))
    c1 = min(src.width, math.ceil(win.col_off + win.width))
    r1 = min(src.height, math.ceil(win.row_off + win.height))
    if c1 <= c0 or r1 <= r0:
        return None
    win = Window(c0, r0, c1 - c0, r1 - r0)
    f = max(win.width, win.height) / MAX_READ
    oh, ow = (win.height, win.width) if f <= 1 else \
        (max(1, round(win.height / f)), max(1, round(win.width / f)))
    data = src.read(bands, window=win, out_shape=(len(bands), oh, ow),
                    resampling=Resampling.nearest)
    st = src.window_transform(win) if (oh, ow) == (win.height, win.width) else \
        _scaled(src.window_transform(win), win.width / ow, win.height / oh)
    dt = from_bounds(left, bottom, right, top, TILE, TILE)
    rs = Resampling[resampling]
    out = np.zeros((len(bands), TILE, TILE), data.dtype)
    if src_nodata is not None:
        out[:] = src_nodata
    reproject(data, out, src_transform=st, src_crs=src.crs, dst_transform=dt,
              dst_crs='EPSG:3857', resampling=rs, src_nodata=src_nodata, dst_nodata=src_nodata)
    covered = np.zeros((1, TILE, TILE), np.uint8)
    reproject(np.ones((1, oh, ow), np.uint8), covered, src_transform=st, src_crs=src.crs,
              dst_transform=dt, dst_crs='EPSG:3857', resampling=Resampling.nearest,
              src_nodata=0, dst_nodata=0)
    return out, covered[0].astype(bool)


def _scaled(transform, sx, sy):
    from affine import Affine
    return transform @ Affine.scale(sx, sy)


def decimated(src, bands, side: int = 2048):
    """bands×h×w nearest-neighbour read with long side ≤ `side` (the plain-image view)."""
    from rasterio.enums import Resampling

    from ..apis.raster_io import overview_shape
    h, w = overview_shape(src.height, src.width, side)
    return src.read(bands, out_shape=(len(bands), h, w), resampling=Resampling.nearest)


def scene_rgba(data: np.ndarray, covered, stretch, nodata, alpha_band=None) -> np.ndarray:
    """RGBA of a bands×h×w read: the predictor's stretch, transparent where no data."""
    from ..utils.images import valid_mask
    img = np.moveaxis(data, 0, -1)
    valid = valid_mask(img, nodata) if covered is None else covered & valid_mask(img, nodata)
    if alpha_band is not None:
        valid &= alpha_band > 0
    if img.dtype.kind == 'f':
        img = np.where(valid[..., None], img, 0).astype(img.dtype)
    rgb = stretch(img, 'map tile')
    return np.dstack([rgb, np.where(valid, 255, 0).astype(np.uint8)])


def labels_rgba(labels: np.ndarray, colours: np.ndarray, hidden=()) -> np.ndarray:
    """RGBA of an h×w class map: palette colours, transparent for no data and hidden classes."""
    from ..apis.raster_io import NODATA_LABEL
    lut = np.zeros((256, 4), np.uint8)
    lut[:len(colours), :3] = colours
    lut[:len(colours), 3] = 255
    for i in hidden:
        if 0 <= i < len(colours):
            lut[i, 3] = 0
    lut[NODATA_LABEL, 3] = 0
    return lut[labels]
