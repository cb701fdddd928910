"""SpaceNet 3 roads from the official download (GeoJSON centre lines) → `cfg_spacenet_road`.

    python tools/dataset_converters/spacenet_road.py \\
        --src /downloads/SN3_roads/train/AOI_2_Vegas /downloads/SN3_roads/train/AOI_3_Paris \\
        --out data/GlobalRoadSet_Val/SpaceNet_test_567
    python tools/dataset_converters/spacenet_road.py --src /downloads/SN3_roads/train \\
        --out data/GlobalRoadSet_Val/SpaceNet_test_567        # every AOI folder in it
    python tools/dataset_converters/spacenet_road.py \\
        --src /downloads/AOI_2_Vegas_Roads_Train --out data/GlobalRoadSet_Val/SpaceNet_test_567

Both releases are read: the current one (`PS-RGB/`, `geojson_roads/`, names
`SN3_roads_train_<AOI>_PS-RGB_img<N>`) and the 2017 one (`RGB-PanSharpen/`,
`geojson/spacenetroads/`); tiles are named `<AOI>_img<N>` either way.

SpaceNet distributes roads as GeoJSON line strings (centre lines, lon/lat) and images as
16-bit pan-sharpened GeoTIFFs, not as raster masks. Each image becomes an 8-bit
`img/<AOI>_img<N>.jpg` (2nd-98th percentile stretch per band, 0 = nodata) and its lines are
burnt into `label_cvt/<AOI>_img<N>.png` (0 background, 1 road): every pixel a line touches
(rasterio.features.rasterize, all_touched), then widened to ROAD_WIDTH_PX pixels with a
disc. The default width, 13 px, is the 2 m buffer each side of the centre line that
SpaceNet's own mask tools use (APLS `buffer_meters=2`: 4 m) at the 0.3 m pixels of the
pan-sharpened RGB images (PS-RGB / RGB-PanSharpen); --road-width-px changes it.

Which tiles GlobalRoadSet kept for its 567 test tiles is not published: this converts every
tile of the AOI folders given, so numbers differ from the paper's SpaceNet column.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

import common as C  # noqa: E402

SOURCE = ('SpaceNet 3 Roads (Van Etten et al. 2018), https://spacenet.ai/spacenet-roads-dataset/ '
          '(AWS s3://spacenet-dataset/spacenet/SN3_roads/)')
LAYOUT = '''<src> = an unpacked SpaceNet 3 AOI folder, in either release's layout:
  current (s3://spacenet-dataset/spacenet/SN3_roads/train/AOI_<n>_<city>/):
    <src>/PS-RGB/SN3_roads_train_<AOI>_PS-RGB_img<N>.tif                 (16-bit GeoTIFF, 1300x1300)
    <src>/geojson_roads/SN3_roads_train_<AOI>_geojson_roads_img<N>.geojson (road centre lines)
  2017 (AOI_<n>_<city>_Roads_Train.tar.gz):
    <src>/RGB-PanSharpen/RGB-PanSharpen_<AOI>_img<N>.tif
    <src>/geojson/spacenetroads/spacenetroads_<AOI>_img<N>.geojson
  or the folder holding such AOI folders (e.g. SN3_roads/train).'''
ROAD_WIDTH_PX = 13
GEOJSON_CRS = 'EPSG:4326'   # RFC 7946: GeoJSON coordinates are WGS84 lon/lat


@dataclass(frozen=True)
class Release:
    """Where one SpaceNet 3 release keeps a tile's image and roads, and how they are named.
    `image` matches an image's stem: group 'aoi' (AOI_<n>_<city>), group 'n' (img<N>);
    `label` gives the GeoJSON name from the image stem's match."""
    name: str
    image_dir: str
    label_dir: str
    image: re.Pattern
    label: str


RELEASES = (
    # 2017: SpaceNetChallenge's AOI listing (AOI_2_Vegas_Roads_Train.tar.gz: RGB-PanSharpen/,
    # geojson/spacenetroads/), APLS/CRESI mask tools (find_string "geojson/spacenetroads").
    Release('2017', 'RGB-PanSharpen', 'geojson/spacenetroads',
            re.compile(r'RGB-PanSharpen_(?P<aoi>AOI_\d+_[^_]+)_(?P<n>img\d+)'),
            'spacenetroads_{aoi}_{n}.geojson'),
    # current: azavea/raster-vision spacenet_vegas.py (SN3_roads/train/AOI_2_Vegas/, PS-RGB/
    # SN3_roads_train_AOI_2_Vegas_PS-RGB_img<N>, geojson_roads/…_geojson_roads_img<N>);
    # CRESI speed_masks.py (SN3 label name = image name with PS-RGB replaced).
    Release('current', 'PS-RGB', 'geojson_roads',
            re.compile(r'(?P<prefix>SN3_roads_[a-z_]+?)_(?P<aoi>AOI_\d+_[^_]+)_PS-RGB_(?P<n>img\d+)'),
            '{prefix}_{aoi}_geojson_roads_{n}.geojson'),
)


def release_of(src) -> Release | None:
    """The release whose label folder `src` holds, or None."""
    for rel in RELEASES:
        if (Path(src) / rel.label_dir).is_dir():
            return rel
    return None


def aoi_folders(src) -> list[Path]:
    """`src` if it is an AOI folder of either release, else its AOI_* sub-folders that are."""
    src = Path(src)
    if release_of(src):
        return [src]
    if src.is_dir():
        return sorted(p for p in src.iterdir() if p.is_dir() and p.name.startswith('AOI_')
                      and release_of(p))
    return []


def is_official_layout(src) -> bool:
    """True for an AOI folder of either official release (or a folder of them)."""
    return bool(aoi_folders(src))


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
                                   'be placed on it (use the official PS-RGB / RGB-PanSharpen GeoTIFFs)')
        return np.moveaxis(ds.read(), 0, -1), ds.transform, ds.crs, ds.nodata


def convert(srcs, out, width_px: int = ROAD_WIDTH_PX) -> dict:
    """Every tile of the AOI folders `srcs` → `out/img/<AOI>_img<N>.jpg` and
    `out/label_cvt/<AOI>_img<N>.png`; prints and returns a summary."""
    from segearth_ov.utils.images import to_uint8_rgb
    out = Path(out)
    img_out, lbl_out = out / 'img', out / 'label_cvt'
    counts = dict(tiles=0, empty=0, missing_labels=0)
    log = C.LabelSummary('SpaceNet', classes=('background', 'road'))
    aois = [a for s in srcs for a in (aoi_folders(s) or [C.require_dir(s, LAYOUT)])]
    for src in aois:
        rel = release_of(src)
        if rel is None:
            raise C.ConverterError(f'{src} is not a SpaceNet 3 AOI folder (no '
                                   f'{" or ".join(r.label_dir + "/" for r in RELEASES)})\n'
                                   f'expected:\n{LAYOUT}')
        img_in = C.require_dir(src / rel.image_dir, LAYOUT)
        lbl_in = src / rel.label_dir
        C.check_output(img_out, img_in, lbl_in)
        C.check_output(lbl_out, img_in, lbl_in)
        images = C.list_images(img_in, exts=('.tif', '.tiff'))
        if not images:
            raise C.ConverterError(f'no GeoTIFFs in {img_in}\nexpected:\n{LAYOUT}')
        for ip in C.progress(images, f'SpaceNet {src.name}'):
            m = rel.image.fullmatch(ip.stem)
            if m is None:
                log.skip(ip, f'not a {rel.name}-release image name ({rel.image.pattern})')
                continue
            name = f'{m["aoi"]}_{m["n"]}'
            lp = lbl_in / rel.label.format(**m.groupdict())
            if not lp.is_file():
                counts['missing_labels'] += 1
                log.skip(ip, f'no {lp.name}')
                continue
            arr, transform, crs, nodata = read_georeferenced(ip)
            mask = road_mask(line_geometries(lp), arr.shape[:2], transform, crs, width_px)
            rgb = to_uint8_rgb(arr, str(ip), nodata=0 if nodata is None else nodata)
            img_out.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rgb).save(img_out / f'{name}.jpg', quality=95)
            log.save(mask, lbl_out / f'{name}.png')
            counts['tiles'] += 1
            counts['empty'] += int(not mask.any())
    print(f'SpaceNet: {counts["tiles"]} tiles → {img_out} / {lbl_out} (roads {width_px} px '
          f'wide), {counts["empty"]} of them without roads')
    summary = log.finish()
    counts.update(pixels=summary['pixels'], skipped=summary['skipped'])
    return counts
