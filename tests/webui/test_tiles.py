"""Map tiles of the web page (segearth_ov/webui/tiles.py, rio-tiler): a class map in UTM
comes out in web-mercator tiles at the right place."""
from __future__ import annotations

import math

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from segearth_ov.webui import tiles
from segearth_ov.webui.safety import RequestError


def lonlat_to_tile_pixel(lon, lat, z):
    """Global pixel coordinates (x, y) of a point in the XYZ scheme at zoom z."""
    n = 2 ** z * tiles.TILE
    x = (lon + 180) / 360 * n
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return x, y


def test_class_map_tile_puts_the_boundary_at_its_longitude(tmp_path):
    """Left half class 0, right half class 1 (UTM 32N, 1 m pixels, nodata 255 strip at the
    top): in the z18 tile over the boundary, pixels west of the boundary's longitude are 0,
    east 1 (±1 tile pixel, ~0.4 m), the nodata strip and the outside are uncovered."""
    path = tmp_path / 'labels.tif'
    labels = np.zeros((200, 200), np.uint8)
    labels[:, 100:] = 1
    labels[:20] = 255
    with rasterio.open(path, 'w', driver='GTiff', height=200, width=200, count=1,
                       dtype='uint8', nodata=255, crs='EPSG:32632',
                       transform=from_origin(356000, 5645000, 1, 1)) as dst:
        dst.write(labels[None])
    from rasterio.warp import transform as warp
    (lon,), (lat,) = warp('EPSG:32632', 'EPSG:4326', [356100], [5644900])
    z = 18
    px, py = lonlat_to_tile_pixel(lon, lat, z)
    x, y = int(px // tiles.TILE), int(py // tiles.TILE)
    with rasterio.open(path) as src:
        data, covered = tiles.read_tile(src, [1], z, x, y, nodata=255)
        assert tiles.read_tile(src, [1], z, 0, 0, nodata=255) is None      # far away
        with pytest.raises(RequestError, match='does not exist'):
            tiles.read_tile(src, [1], z, 2 ** z, 0)
    row, col = int(py - y * tiles.TILE), int(px - x * tiles.TILE)
    assert data.shape == (1, 256, 256) and covered[row].any()
    line = data[0, row]
    assert (line[:col - 1][covered[row, :col - 1]] == 0).all()
    assert (line[col + 1:][covered[row, col + 1:]] == 1).all()
    assert (line[max(0, col - 60):col - 1] == 0).all() and (line[col + 1:col + 60] == 1).all()
    assert (data[0][~covered] == 255).all()
