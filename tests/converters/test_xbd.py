import converter_helpers  # noqa: F401  (puts tools/dataset_converters on sys.path)
import json

import numpy as np
import pytest

import common as C
import xbd
from converter_helpers import read, write_img, rgb  # noqa: F401  (fixture)


def test_xbd_targets_and_json(tmp_path, rgb):
    src, out = tmp_path / 'test', tmp_path / 'data' / 'xBD' / 'test'
    a, b = 'hurricane-x_00000001_pre_disaster', 'flood-y_00000002_pre_disaster'
    for i, n in enumerate([a, b, 'hurricane-x_00000001_post_disaster']):
        write_img(src / 'images' / f'{n}.png', rgb(seed=i))
    # a: official raster target with damage classes 1..4 (→ 1)
    tgt = np.zeros((8, 8), np.uint8)
    tgt[1:3, 1:3], tgt[5:7, 4:8] = 1, 4
    write_img(src / 'targets' / f'{a}_target.png', tgt)
    # b: only the JSON polygons (one with a hole, one outside the first)
    label = {'metadata': {'width': 8, 'height': 8}, 'features': {'xy': [
        {'properties': {'feature_type': 'building'},
         'wkt': 'POLYGON ((1 1, 5 1, 5 5, 1 5, 1 1), (3 3, 3 3, 3 3, 3 3))'},
        {'wkt': 'MULTIPOLYGON (((7 0, 7 1, 7 1, 7 0)))'}]}}
    (src / 'labels').mkdir()
    (src / 'labels' / f'{b}.json').write_text(json.dumps(label))
    counts = xbd.convert(src, out)
    assert counts == dict(from_targets=1, from_json=1, missing=0)
    assert sorted(p.name for p in (out / 'images_pre').iterdir()) == [f'{b}.png', f'{a}.png']
    assert sorted(p.name for p in (out / 'targets_cvt_pre').iterdir()) == \
        [f'{b}.png', f'{a}.png']
    np.testing.assert_array_equal(read(out / 'targets_cvt_pre' / f'{a}.png'),
                                  (tgt > 0).astype(np.uint8))
    exp = np.zeros((8, 8), np.uint8)
    exp[1:6, 1:6] = 1
    exp[3, 3] = 0            # the hole
    exp[0:2, 7] = 1          # the degenerate multipolygon edge
    np.testing.assert_array_equal(read(out / 'targets_cvt_pre' / f'{b}.png'), exp)
    np.testing.assert_array_equal(read(out / 'images_pre' / f'{a}.png'), rgb(seed=0))


def test_xbd_errors(tmp_path):
    with pytest.raises(C.ConverterError, match='pre_disaster.json'):
        xbd.convert(tmp_path / 'missing', tmp_path / 'out')
    (tmp_path / 'test' / 'images').mkdir(parents=True)
    with pytest.raises(C.ConverterError, match='source folder'):
        xbd.convert(tmp_path / 'test', tmp_path / 'test' / 'images')
