"""SpaceNet 3 roads from the official download (GeoJSON centre lines) → `cfg_spacenet_road`.

    python tools/dataset_converters/spacenet_road.py \\
        --src /downloads/AOI_2_Vegas_Roads_Train /downloads/AOI_3_Paris_Roads_Train \\
        --out data/GlobalRoadSet_Val/SpaceNet_test_567

SpaceNet distributes roads as GeoJSON line strings (centre lines, lon/lat) and images as
16-bit pan-sharpened GeoTIFFs, not as raster masks. Each image becomes an 8-bit
`img/<AOI>_img<N>.jpg` (2nd-98th percentile stretch per band, 0 = nodata) and its lines are
burnt into `label_cvt/<AOI>_img<N>.png` (0 background, 1 road): every pixel a line touches
(rasterio.features.rasterize, all_touched), then widened to ROAD_WIDTH_PX pixels with a
disc. The default width, 13 px, is the 2 m buffer each side of the centre line that
SpaceNet's own mask tools use (APLS `buffer_meters=2`: 4 m) at the 0.3 m pixels of the
RGB-PanSharpen images; --road-width-px changes it.

Which tiles GlobalRoadSet kept for its 567 test tiles is not published: this converts every
tile of the AOI folders given, so numbers differ from the paper's SpaceNet column.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

SOURCE = ('SpaceNet 3 Roads (Van Etten et al. 2018), https://spacenet.ai/spacenet-roads-dataset/ '
          '(AWS s3://spacenet-dataset/spacenet/SN3_roads/)')
LAYOUT = '''<src> = an unpacked SpaceNet 3 AOI folder, e.g. AOI_2_Vegas_Roads_Train:
  <src>/RGB-PanSharpen/RGB-PanSharpen_<AOI>_img<N>.tif          (16-bit GeoTIFF, 1300x1300)
  <src>/geojson/spacenetroads/spacenetroads_<AOI>_img<N>.geojson (road centre lines)'''
IMAGE_DIR, LABEL_DIR = 'RGB-PanSharpen', Path('geojson') / 'spacenetroads'
IMAGE_PREFIX, LABEL_PREFIX = 'RGB-PanSharpen_', 'spacenetroads_'
ROAD_WIDTH_PX = 13
GEOJSON_CRS = 'EPSG:4326'   # RFC 7946: GeoJSON coordinates are WGS84 lon/lat


def is_official_layout(src) -> bool:
    """True for an AOI folder of the official download (has geojson/spacenetroads/)."""
    return (Path(src) / LABEL_DIR).is_dir()


def line_geometries(geojson_path) -> list[dict]:
    """The (Multi)LineString geometries of a GeoJSON file; empty ones are dropped."""
    try:
        data = json.loads(Path(geojson_path).read_text())
    except (OSError, ValueError) as e:
        raise C.ConverterError(f'cannot read GeoJSON {geojson_path}: {e}') from e
    geoms = []
    for feature in data.get('features', []):
        geom = feature.get('geometry') or {}
        if geom.get('type') in ('LineString', 'MultiLineString') and geom.get('coordinates'):
            geoms.append(geom)
    return geoms


def road_mask(geoms, shape, transform, crs=None, width_px: int = ROAD_WIDTH_PX) -> np.ndarray:
    """A 0/1 uint8 mask of `shape`: the lines (GeoJSON dicts in lon/lat) burnt in through the
    image's affine `transform` (and reprojected to its `crs` when that is not lon/lat), then
    widened to `width_px` pixels."""
    from rasterio.crs import CRS
    from rasterio.features import rasterize
    from rasterio.warp import transform_geom
    if width_px < 1:
        raise C.ConverterError(f'--road-width-px must be ≥ 1, got {width_px}')
    if not geoms:
        return np.zeros(shape, np.uint8)
    if crs is not None and CRS.from_user_input(crs) != CRS.from_user_input(GEOJSON_CRS):
        geoms = [transform_geom(GEOJSON_CRS, crs, g) for g in geoms]
    mask = rasterize(((g, 1) for g in geoms), out_shape=shape, transform=transform,
                     fill=0, all_touched=True, dtype='uint8')
    if width_px > 1:
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (width_px, width_px))
        mask = cv2.dilate(mask, disc)
    return mask


def read_georeferenced(path):
    """(H x W x bands array, affine transform, crs, nodata) of a GeoTIFF; an error if it
    carries no georeferencing (lines could not be placed)."""
    import rasterio
    from affine import Affine
    with rasterio.open(path) as ds:
        if ds.transform == Affine.identity() or ds.crs is None:
            raise C.ConverterError(f'{path} has no georeferencing: the GeoJSON lines cannot '
                                   'be placed on it (use the official RGB-PanSharpen GeoTIFFs)')
        return np.moveaxis(ds.read(), 0, -1), ds.transform, ds.crs, ds.nodata


def convert(srcs, out, width_px: int = ROAD_WIDTH_PX) -> dict:
    from segearth_ov.utils.images import to_uint8_rgb
    out = Path(out)
    img_out, lbl_out = out / 'img', out / 'label_cvt'
    counts = dict(tiles=0, empty=0, missing_labels=0)
    for src in srcs:
        src = C.require_dir(src, LAYOUT)
        img_in = C.require_dir(src / IMAGE_DIR, LAYOUT)
        lbl_in = C.require_dir(src / LABEL_DIR, LAYOUT)
        C.check_output(img_out, img_in, lbl_in)
        C.check_output(lbl_out, img_in, lbl_in)
        images = C.list_images(img_in, exts=('.tif', '.tiff'))
        if not images:
            raise C.ConverterError(f'no GeoTIFFs in {img_in}\nexpected:\n{LAYOUT}')
        for ip in C.progress(images, f'SpaceNet {src.name}'):
            name = ip.stem[len(IMAGE_PREFIX):] if ip.stem.startswith(IMAGE_PREFIX) else ip.stem
            lp = lbl_in / f'{LABEL_PREFIX}{name}.geojson'
            if not lp.is_file():
                counts['missing_labels'] += 1
                print(f'warning: no {lp.name} for {ip.name}; skipped', file=sys.stderr)
                continue
            arr, transform, crs, nodata = read_georeferenced(ip)
            mask = road_mask(line_geometries(lp), arr.shape[:2], transform, crs, width_px)
            rgb = to_uint8_rgb(arr, str(ip), nodata=0 if nodata is None else nodata)
            img_out.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rgb).save(img_out / f'{name}.jpg', quality=95)
            C.save_label(mask, lbl_out / f'{name}.png')
            counts['tiles'] += 1
            counts['empty'] += int(not mask.any())
    print(f'SpaceNet: {counts["tiles"]} tiles → {img_out} / {lbl_out} (roads {width_px} px '
          f'wide); {counts["empty"]} without roads; {counts["missing_labels"]} images '
          'without GeoJSON')
    return counts
