"""Map pictures of a scene and of its class map: web-mercator tiles (georeferenced scenes)
and one decimated image (plain images, shown in an image view).

Why rio-tiler: it is the tiler behind TiTiler and localtileserver (leafmap, samgeo) and does
the tile maths, the overview choice, the reprojection and the coverage mask of each XYZ
tile, reading only the source window under it — memory and time per tile stay bounded
whatever the scene's size. The dataset it reads is always one the caller opened (with the
scene's pinned GDAL driver, `formats`): rio-tiler never opens a path itself here.
"""
from __future__ import annotations

import io
import warnings

import numpy as np

# imported here, once, when the app is made: the first tiles are cut in several threads at
# once, and a first import racing in two threads fails ("cannot import name 'Reader'")
from rio_tiler.errors import TileOutsideBounds
from rio_tiler.io import Reader

TILE = 256
MAX_ZOOM = 24


def png_bytes(rgba: np.ndarray) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(rgba, 'RGBA').save(buf, format='PNG', compress_level=1)
    return buf.getvalue()


def check_tile(z: int, x: int, y: int) -> None:
    """RequestError (404) for an XYZ address that does not exist."""
    if not (0 <= z <= MAX_ZOOM and 0 <= x < 2 ** z and 0 <= y < 2 ** z):
        from .safety import RequestError
        raise RequestError(f'tile {z}/{x}/{y} does not exist (zoom 0–{MAX_ZOOM}, x and y '
                           'below 2^zoom)', 404)


def geographic_bounds(src) -> list[list[float]]:
    """[[south, west], [north, east]] of a georeferenced dataset (Leaflet's fitBounds)."""
    from rasterio.warp import transform_bounds
    w, s, e, n = transform_bounds(src.crs, 'EPSG:4326', *src.bounds, densify_pts=21)
    return [[s, w], [n, e]]


def read_tile(src, bands, z, x, y, nodata=None):
    """(bands×256×256 array in the source's dtype, 256×256 covered mask) of the XYZ tile
    z/x/y of an open dataset (rio-tiler, nearest neighbour), or None when the tile misses
    the scene. `nodata`: the value outside the scene and not covered (e.g. 255 for class
    maps), else the file's."""
    check_tile(z, x, y)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')         # NoOverviewWarning for small uploads
        with Reader(None, dataset=src) as reader:
            try:
                img = reader.tile(x, y, z, tilesize=TILE, indexes=list(bands), nodata=nodata)
            except TileOutsideBounds:
                return None
    covered = ~np.ma.getmaskarray(img.array).all(axis=0)
    data = img.array.data
    if nodata is not None:
        data = np.where(covered, data, nodata).astype(data.dtype)
    return data, covered


def decimated(src, bands, side: int = 2048):
    """bands×h×w nearest-neighbour read with long side ≤ `side` (the plain-image view)."""
    from rasterio.enums import Resampling

    from ..mapping.raster_io import overview_shape
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
    from ..mapping.raster_io import NODATA_LABEL
    lut = np.zeros((256, 4), np.uint8)
    lut[:len(colours), :3] = colours
    lut[:len(colours), 3] = 255
    for i in hidden:
        if 0 <= i < len(colours):
            lut[i, 3] = 0
    lut[NODATA_LABEL, 3] = 0
    return lut[labels]
