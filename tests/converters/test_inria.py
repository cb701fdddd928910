import converter_helpers  # noqa: F401  (puts tools/dataset_converters on sys.path)
import numpy as np
import pytest

import common as C
import inria
from converter_helpers import read, write_img, rgb  # noqa: F401  (fixture)


def test_crop_boxes():
    assert inria.crop_boxes(10, 10, 4, 4) == [
        (x, y, x + 4, y + 4) for y in (0, 4, 6) for x in (0, 4, 6)]
    assert inria.crop_boxes(3, 3, 4, 4) == [(0, 0, 3, 3)]


def test_inria_split_test_crops(tmp_path, rgb):
    src, out = tmp_path / 'AerialImageDataset' / 'train', tmp_path / 'data'
    mask = np.zeros((10, 10), np.uint8)
    mask[0:5, 5:10] = 255
    for i, tile in enumerate(['vienna3', 'austin1', 'austin2']):   # austin2: train split
        write_img(src / 'images' / f'{tile}.tif', rgb(10, 10, seed=i))
        write_img(src / 'gt' / f'{tile}.tif', mask)
    counts = inria.convert(src, out, crop=5, stride=5)
    assert counts == {'split_test': {'crops': 8, 'missing': 25}}
    names = sorted(p.name for p in (out / 'ann_dir' / 'split_test').iterdir())
    assert names == sorted(f'{t}_{x}_{y}_{x + 5}_{y + 5}.png' for t in ('austin1', 'vienna3')
                           for x in (0, 5) for y in (0, 5))
    assert sorted(p.name for p in (out / 'img_dir' / 'split_test').iterdir()) == names
    np.testing.assert_array_equal(read(out / 'ann_dir' / 'split_test' / 'vienna3_5_0_10_5.png'),
                                  np.ones((5, 5), np.uint8))
    np.testing.assert_array_equal(read(out / 'ann_dir' / 'split_test' / 'vienna3_0_0_5_5.png'),
                                  np.zeros((5, 5), np.uint8))
    np.testing.assert_array_equal(read(out / 'img_dir' / 'split_test' / 'austin1_5_5_10_10.png'),
                                  rgb(10, 10, seed=1)[5:, 5:])


def test_inria_missing(tmp_path):
    with pytest.raises(C.ConverterError, match=r'gt/<city><n>\.tif'):
        inria.convert(tmp_path / 'x', tmp_path / 'out')
