import converter_helpers  # noqa: F401  (puts tools/dataset_converters on sys.path)
import json

import numpy as np
import pytest

import common as C
import hrsid
from converter_helpers import read, write_img, rgb  # noqa: F401  (fixture)


def test_hrsid(tmp_path, rgb):
    root = tmp_path / 'HRSID_JPG'
    write_img(root / 'JPEGImages' / 'P0001_0_800_0_800.jpg', rgb(6, 8))
    write_img(root / 'JPEGImages' / 'P0002_0_800_0_800.jpg', rgb(6, 8, seed=1))
    coco = {'images': [{'id': 1, 'file_name': 'P0001_0_800_0_800.jpg', 'height': 6, 'width': 8},
                       {'id': 2, 'file_name': 'P0002_0_800_0_800.jpg', 'height': 6, 'width': 8}],
            'annotations': [
                {'id': 1, 'image_id': 1, 'segmentation': [[1, 1, 3, 1, 3, 2, 1, 2]]},
                {'id': 2, 'image_id': 1, 'segmentation': [[6, 4, 7, 4, 7, 5, 6, 5]]},
                {'id': 3, 'image_id': 1, 'segmentation': {'counts': 'x', 'size': [6, 8]}}]}
    (root / 'annotations').mkdir()
    (root / 'annotations' / 'test2017.json').write_text(json.dumps(coco))
    counts = hrsid.convert(root, root)                 # in place: images stay where they are
    assert counts == dict(images=2, ships=3, rle_skipped=1, missing_images=0)
    exp = np.zeros((6, 8), np.uint8)
    exp[1:3, 1:4] = 1
    exp[4:6, 6:8] = 1
    np.testing.assert_array_equal(read(root / 'label' / 'test' / 'P0001_0_800_0_800.png'), exp)
    np.testing.assert_array_equal(read(root / 'label' / 'test' / 'P0002_0_800_0_800.png'),
                                  np.zeros((6, 8)))
    assert (root / 'label' / 'test.txt').read_text() == \
        'P0001_0_800_0_800\nP0002_0_800_0_800\n'
    assert sorted(p.name for p in (root / 'JPEGImages').iterdir()) == \
        ['P0001_0_800_0_800.jpg', 'P0002_0_800_0_800.jpg']


def test_hrsid_missing(tmp_path):
    (tmp_path / 'JPEGImages').mkdir()
    with pytest.raises(C.ConverterError, match='test2017.json'):
        hrsid.convert(tmp_path, tmp_path / 'out')
