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


def _write_tile(tif, geojson, lines, crs):
    """A 16-bit 3-band GeoTIFF (SpaceNet 3 pan-sharpened RGB is distributed in native 16 bit:
    "The SpaceNet 5 Baseline — Part 1", Van Etten 2019) and its GeoJSON centre lines."""
    tif.parent.mkdir(parents=True, exist_ok=True)
    geojson.parent.mkdir(parents=True, exist_ok=True)
    data = (np.arange(3 * 20 * 20, dtype=np.uint16).reshape(3, 20, 20) * 7 + 100)
    with rasterio.open(tif, 'w', driver='GTiff', width=20, height=20, count=3, dtype='uint16',
                       crs=crs, transform=from_origin(LON0, LAT0, RES, RES)) as ds:
        ds.write(data)
    features = [{'type': 'Feature', 'properties': {},
                 'geometry': {'type': 'LineString', 'coordinates': line}} for line in lines]
    features.append({'type': 'Feature', 'properties': {}, 'geometry': None})  # empty road
    geojson.write_text(json.dumps({'type': 'FeatureCollection', 'features': features}))


def write_aoi(root, name, lines, crs='EPSG:4326'):
    """A tile of a 2017-release AOI folder (AOI_2_Vegas_Roads_Train.tar.gz):
    RGB-PanSharpen/RGB-PanSharpen_<AOI>_img<N>.tif, geojson/spacenetroads/spacenetroads_<AOI>_img<N>.geojson
    (SpaceNetChallenge.github.io AOI_Lists/AOI_2_Vegas.md)."""
    _write_tile(root / 'RGB-PanSharpen' / f'RGB-PanSharpen_{name}.tif',
                root / 'geojson' / 'spacenetroads' / f'spacenetroads_{name}.geojson', lines, crs)


def write_aoi_current(root, aoi, n, lines, crs='EPSG:4326'):
    """A tile of the current release (s3://spacenet-dataset/spacenet/SN3_roads/train/<AOI>/):
    PS-RGB/SN3_roads_train_<AOI>_PS-RGB_img<N>.tif,
    geojson_roads/SN3_roads_train_<AOI>_geojson_roads_img<N>.geojson
    (azavea/raster-vision spacenet_vegas.py; CRESI speed_masks.py)."""
    _write_tile(root / 'PS-RGB' / f'SN3_roads_train_{aoi}_PS-RGB_img{n}.tif',
                root / 'geojson_roads' / f'SN3_roads_train_{aoi}_geojson_roads_img{n}.geojson',
                lines, crs)


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
    assert (counts['tiles'], counts['empty'], counts['missing_labels']) == (2, 1, 0)
    assert counts['pixels'] == dict(background=800 - 100, road=100)   # 5 px x 20 rows
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
    with rasterio.open(bare / 'RGB-PanSharpen_AOI_2_Vegas_img9.tif', 'w', driver='GTiff',
                       width=4, height=4, count=1, dtype='uint8') as ds:
        ds.write(np.zeros((1, 4, 4), np.uint8))
    (tmp_path / 'bare' / 'geojson' / 'spacenetroads' /
     'spacenetroads_AOI_2_Vegas_img9.geojson').write_text(
        '{"type": "FeatureCollection", "features": []}')
    with pytest.raises(C.ConverterError, match='no georeferencing'):
        G.convert([tmp_path / 'bare'], tmp_path / 'out2')


def test_current_release_layout_and_its_parent_folder(tmp_path, capsys):
    """The current SN3 download: SN3_roads/train/AOI_*/PS-RGB + geojson_roads, given as the
    train folder holding the AOIs; tiles are named <AOI>_img<N> as in the 2017 release."""
    train = tmp_path / 'SN3_roads' / 'train'
    write_aoi_current(train / 'AOI_2_Vegas', 'AOI_2_Vegas', 1, [[px(4.5, 0.5), px(4.5, 19.5)]])
    write_aoi_current(train / 'AOI_3_Paris', 'AOI_3_Paris', 12, [[px(0.5, 3.5), px(19.5, 3.5)]])
    # a tile whose GeoJSON is missing is skipped, and the summary says so
    write_aoi_current(train / 'AOI_3_Paris', 'AOI_3_Paris', 13, [])
    (train / 'AOI_3_Paris' / 'geojson_roads' /
     'SN3_roads_train_AOI_3_Paris_geojson_roads_img13.geojson').unlink()
    before = sorted(p.name for p in train.rglob('*'))
    entry = runpy.run_path(str(CONVERTERS / 'spacenet_road.py'), run_name='entry_test')
    out = tmp_path / 'SpaceNet_test_567'
    entry['main'](['--src', str(train), '--out', str(out), '--road-width-px', '1'])
    assert sorted(p.name for p in (out / 'label_cvt').iterdir()) == [
        'AOI_2_Vegas_img1.png', 'AOI_3_Paris_img12.png']
    assert sorted(p.name for p in (out / 'img').iterdir()) == [
        'AOI_2_Vegas_img1.jpg', 'AOI_3_Paris_img12.jpg']
    vegas = read(out / 'label_cvt' / 'AOI_2_Vegas_img1.png')
    assert vegas[:, 4].all() and vegas.sum() == 20                    # column 4
    paris = read(out / 'label_cvt' / 'AOI_3_Paris_img12.png')
    assert paris[3].all() and paris.sum() == 20                       # row 3
    printed = capsys.readouterr().out
    assert '2 label files written' in printed and 'road 40 ' in printed
    assert 'SN3_roads_train_AOI_3_Paris_PS-RGB_img13.tif: no ' \
           'SN3_roads_train_AOI_3_Paris_geojson_roads_img13.geojson' in printed
    assert sorted(p.name for p in train.rglob('*')) == before        # source untouched


def test_both_releases_in_one_run_name_tiles_alike(tmp_path):
    old = tmp_path / 'AOI_2_Vegas_Roads_Train'
    write_aoi(old, 'AOI_2_Vegas_img1', [[px(4.5, 0.5), px(4.5, 19.5)]])
    new = tmp_path / 'SN3_roads' / 'train' / 'AOI_5_Khartoum'
    write_aoi_current(new, 'AOI_5_Khartoum', 7, [[px(0.5, 3.5), px(19.5, 3.5)]])
    counts = G.convert([old, new], tmp_path / 'out', width_px=1)
    assert counts['tiles'] == 2 and counts['skipped'] == []
    assert sorted(p.name for p in (tmp_path / 'out' / 'label_cvt').iterdir()) == [
        'AOI_2_Vegas_img1.png', 'AOI_5_Khartoum_img7.png']
    with pytest.raises(C.ConverterError, match='no geojson/spacenetroads/ or geojson_roads/'):
        G.convert([tmp_path / 'SN3_roads'], tmp_path / 'out2')       # no AOI folder in it
