import converter_helpers  # noqa: F401  (puts tools/dataset_converters on sys.path)
import json
import runpy

import numpy as np
import pytest

import common as C
import spacenet_geojson as G
from converter_helpers import CONVERTERS, read

rasterio = pytest.importorskip('rasterio')
from rasterio.transform import from_origin  # noqa: E402

LON0, LAT0, RES = -115.30, 36.20, 1e-5        # a 20 x 20 tile, 1e-5 degree pixels


def px(col, row):
    """lon/lat of a pixel position (col, row) of the synthetic tile."""
    return [LON0 + col * RES, LAT0 - row * RES]


def write_aoi(root, name, lines, crs='EPSG:4326'):
    """A SpaceNet 3 AOI folder with one 16-bit GeoTIFF and its GeoJSON roads."""
    img_dir = root / 'RGB-PanSharpen'
    lbl_dir = root / 'geojson' / 'spacenetroads'
    img_dir.mkdir(parents=True, exist_ok=True)
    lbl_dir.mkdir(parents=True, exist_ok=True)
    data = (np.arange(3 * 20 * 20, dtype=np.uint16).reshape(3, 20, 20) * 7 + 100)
    with rasterio.open(img_dir / f'RGB-PanSharpen_{name}.tif', 'w', driver='GTiff',
                       width=20, height=20, count=3, dtype='uint16', crs=crs,
                       transform=from_origin(LON0, LAT0, RES, RES)) as ds:
        ds.write(data)
    features = [{'type': 'Feature', 'properties': {},
                 'geometry': {'type': 'LineString', 'coordinates': line}} for line in lines]
    features.append({'type': 'Feature', 'properties': {}, 'geometry': None})  # empty road
    (lbl_dir / f'spacenetroads_{name}.geojson').write_text(
        json.dumps({'type': 'FeatureCollection', 'features': features}))


def test_road_mask_width_and_placement():
    line = {'type': 'LineString', 'coordinates': [px(2.5, 10.5), px(17.5, 10.5)]}
    transform = from_origin(LON0, LAT0, RES, RES)
    thin = G.road_mask([line], (20, 20), transform, 'EPSG:4326', width_px=1)
    assert thin.dtype == np.uint8
    assert thin[10, 2:18].all() and thin.sum() == 16          # the centre line, row 10
    wide = G.road_mask([line], (20, 20), transform, 'EPSG:4326', width_px=3)
    assert wide[9:12, 2:18].all()                              # 3 px wide
    assert wide[8].sum() == 0 and wide[12].sum() == 0
    assert wide[10, 1] == 1 and wide[10, 0] == 0 and wide[:, 19].sum() == 0
    assert G.road_mask([], (20, 20), transform).sum() == 0
    with pytest.raises(C.ConverterError, match='road-width-px'):
        G.road_mask([line], (20, 20), transform, width_px=0)


def test_convert_official_aoi(tmp_path):
    aoi = tmp_path / 'AOI_2_Vegas_Roads_Train'
    write_aoi(aoi, 'AOI_2_Vegas_img1', [[px(4.5, 0.5), px(4.5, 19.5)]])   # vertical road
    write_aoi(aoi, 'AOI_2_Vegas_img2', [])                                # no road
    before = sorted(p.name for p in aoi.rglob('*'))
    out = tmp_path / 'SpaceNet_test_567'
    counts = G.convert([aoi], out, width_px=5)
    assert counts == dict(tiles=2, empty=1, missing_labels=0)
    lab = read(out / 'label_cvt' / 'AOI_2_Vegas_img1.png')
    assert lab.shape == (20, 20) and set(np.unique(lab)) == {0, 1}
    assert lab[:, 2:7].all() and lab[:, :2].sum() == 0 and lab[:, 7:].sum() == 0
    assert read(out / 'label_cvt' / 'AOI_2_Vegas_img2.png').sum() == 0
    img = read(out / 'img' / 'AOI_2_Vegas_img1.jpg')
    assert img.shape == (20, 20, 3) and img.dtype == np.uint8 and img.max() > 200
    assert sorted(p.name for p in aoi.rglob('*')) == before          # source untouched


def test_entry_point_picks_the_geojson_path_and_errors(tmp_path):
    aoi = tmp_path / 'AOI_3_Paris_Roads_Train'
    write_aoi(aoi, 'AOI_3_Paris_img7', [[px(0.5, 3.5), px(19.5, 3.5)]])
    entry = runpy.run_path(str(CONVERTERS / 'spacenet_road.py'), run_name='entry_test')
    entry['main'](['--src', str(aoi), '--out', str(tmp_path / 'out'), '--road-width-px', '1'])
    lab = read(tmp_path / 'out' / 'label_cvt' / 'AOI_3_Paris_img7.png')
    assert lab[3].all() and lab.sum() == 20
    bare = tmp_path / 'bare' / 'RGB-PanSharpen'
    bare.mkdir(parents=True)
    (tmp_path / 'bare' / 'geojson' / 'spacenetroads').mkdir(parents=True)
    with rasterio.open(bare / 'RGB-PanSharpen_x.tif', 'w', driver='GTiff', width=4, height=4,
                       count=1, dtype='uint8') as ds:
        ds.write(np.zeros((1, 4, 4), np.uint8))
    (tmp_path / 'bare' / 'geojson' / 'spacenetroads' / 'spacenetroads_x.geojson').write_text(
        '{"type": "FeatureCollection", "features": []}')
    with pytest.raises(C.ConverterError, match='no georeferencing'):
        G.convert([tmp_path / 'bare'], tmp_path / 'out2')
