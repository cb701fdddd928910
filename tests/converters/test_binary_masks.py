import converter_helpers  # noqa: F401  (puts tools/dataset_converters on sys.path)
import subprocess
import sys

import numpy as np
import pytest

import binary_masks as B
import common as C
from converter_helpers import CONVERTERS, read, write_img, rgb  # noqa: F401  (fixture)

MASK = np.zeros((8, 8), np.uint8)
MASK[2:5, 3:7] = 255
EXPECTED = (MASK > 0).astype(np.uint8)


def make_download(root, spec, names, img_src_ext, lbl_src_ext, rgb):
    for i, n in enumerate(names):
        write_img(root / spec.img_in / f'{n}{spec.img_tag}{img_src_ext}', rgb(seed=i))
        write_img(root / spec.lbl_in / f'{n}{spec.lbl_tag}{lbl_src_ext}', MASK)


@pytest.mark.parametrize('dataset,img_src_ext,lbl_src_ext', [
    ('whu_aerial', '.tif', '.tif'),
    ('whu_sat_II', '.tif', '.tif'),
    ('chn6-cug', '.jpg', '.png'),
    ('deepglobe_road', '.jpg', '.png'),
    ('massachusetts_road', '.tiff', '.tif'),
])
def test_binary_sets(tmp_path, rgb, dataset, img_src_ext, lbl_src_ext):
    spec = B.SPECS[dataset]
    src, out = tmp_path / 'download', tmp_path / 'data'
    make_download(src, spec, ['a1', 'b2'], img_src_ext, lbl_src_ext, rgb)
    before = sorted(p.name for p in src.rglob('*'))
    counts = B.convert(dataset, src, out)
    assert counts['labels'] == 2 and counts['unpaired'] == 0
    # the summary names the class: 12 of 64 pixels per mask
    assert counts['pixels'] == {'background': 104, spec.foreground: 24}
    assert counts['thresholded_pixels'] == 0
    for n in ['a1', 'b2']:
        lbl = read(out / spec.lbl_out / f'{n}{spec.lbl_ext}')
        assert lbl.ndim == 2 and lbl.dtype == np.uint8
        np.testing.assert_array_equal(lbl, EXPECTED)
        img = out / spec.img_out / f'{n}{spec.img_ext}'
        assert img.is_file() and read(img).shape == (8, 8, 3)
    assert sorted(p.name for p in (out / spec.lbl_out).iterdir()) == \
        [f'a1{spec.lbl_ext}', f'b2{spec.lbl_ext}']
    assert sorted(p.name for p in src.rglob('*')) == before   # source untouched


def test_noisy_masks_are_thresholded_and_counted(tmp_path, rgb, capsys):
    """DeepGlobe's masks are not pure 0/255 — its challenge description (Road Extraction
    data): "<id>_sat.jpg and <id>_mask.png, <id> a randomized integer … the values of the
    mask image may not be pure 0 and 255 … binarize them at threshold 128": such values
    become 0/1 by the threshold, and the summary says how many there were."""
    spec = B.SPECS['deepglobe_road']
    src = tmp_path / 'DeepGlobe_test_1530'
    noisy = MASK.copy()
    noisy[2, 3], noisy[0, 0], noisy[7, 7] = 200, 30, 128
    write_img(src / 'img' / '104_sat.jpg', rgb(seed=0))
    write_img(src / 'gt' / '104_mask.png', noisy)
    counts = B.convert('deepglobe_road', src, tmp_path / 'data')
    np.testing.assert_array_equal(read(tmp_path / 'data' / spec.lbl_out / '104.png'),
                                  (noisy > 127).astype(np.uint8))
    assert counts['thresholded_pixels'] == 3 and counts['pixels'] == {'background': 51,
                                                                      'road': 13}
    out = capsys.readouterr().out
    assert 'road 13 (20.3%)' in out and '3 px in 1 mask(s) were neither 0 nor 255' in out


def test_roads_images_in_place_and_01_masks(tmp_path, rgb):
    # GlobalRoadSet layout: the config reads the source img/ folder as is.
    root = tmp_path / 'SpaceNet_test_567'
    for i, n in enumerate(['x', 'y']):
        write_img(root / 'img' / f'{n}.jpg', rgb(seed=i))
        write_img(root / 'gt' / f'{n}.png', EXPECTED)          # a 0/1 mask
    counts = B.convert('spacenet_road', root, root)
    assert counts['images_in_place'] == 2 and counts['images'] == 0
    np.testing.assert_array_equal(read(root / 'label_cvt' / 'x.png'), EXPECTED)
    assert sorted(p.name for p in (root / 'img').iterdir()) == ['x.jpg', 'y.jpg']


def test_wbs_si_labels_and_split(tmp_path, rgb):
    import mmcv
    root = tmp_path / 'WaterBodiesDatasetPreprocessed'
    names = [f'water_body_{i}' for i in (1, 2, 10, 11, 3, 20)]
    for i, n in enumerate(names):
        write_img(root / 'Images' / f'{n}.jpg', rgb(seed=i))
        write_img(root / 'Masks' / f'{n}.jpg', MASK)
    split = tmp_path / 'wbs-si_val.txt'
    B.convert('wbs-si', root, root, split_out=split)
    lbl_path = root / 'Masks_cvt' / 'water_body_1.jpg'
    lbl = mmcv.imfrombytes(lbl_path.read_bytes(), flag='unchanged', backend='pillow')
    np.testing.assert_array_equal(lbl, EXPECTED)     # exact, not JPEG-damaged
    # every 5th in natural order: 1 2 3 10 11 20 → 1, 20
    assert split.read_text() == 'water_body_1\nwater_body_20\n'
    B.convert('wbs-si', root, root, split_out=split)   # deterministic on re-run
    assert split.read_text() == 'water_body_1\nwater_body_20\n'


def test_wbs_si_uses_the_shipped_reference_split(tmp_path, rgb):
    shipped = B.WBS_SI_SPLIT.read_bytes()
    names = B.WBS_SI_SPLIT.read_text().split()
    assert len(names) == 499 and len(set(names)) == 499    # the reference's val list
    assert names[:2] == ['water_body_2396', 'water_body_1074']
    root = tmp_path / 'WaterBodiesDatasetPreprocessed'
    for i, n in enumerate(['water_body_2396', 'water_body_1074', 'water_body_5']):
        write_img(root / 'Images' / f'{n}.jpg', rgb(seed=i))
        write_img(root / 'Masks' / f'{n}.jpg', MASK)
    counts = B.convert('wbs-si', root, tmp_path / 'out')
    assert counts['labels'] == 3 and counts['split_missing'] == 497
    assert B.WBS_SI_SPLIT.read_bytes() == shipped          # never overwritten


def test_deepglobe_official_train_folder_shares_images_and_masks(tmp_path, rgb):
    src = tmp_path / 'train'
    for i, n in enumerate(['100', '200']):
        write_img(src / f'{n}_sat.jpg', rgb(seed=i))
        write_img(src / f'{n}_mask.png', MASK)
    counts = B.convert('deepglobe_road', src, tmp_path / 'out', img_dir='.', lbl_dir='.')
    assert counts['labels'] == 2 and counts['unpaired'] == 0
    assert sorted(p.name for p in (tmp_path / 'out' / 'label_cvt').iterdir()) == \
        ['100.png', '200.png']
    assert sorted(p.name for p in (tmp_path / 'out' / 'image_cvt').iterdir()) == \
        ['100.jpg', '200.jpg']


def test_refuses_source_and_missing(tmp_path, rgb):
    spec = B.SPECS['whu_aerial']
    src = tmp_path / 'val'
    make_download(src, spec, ['a'], '.tif', '.tif', rgb)
    with pytest.raises(C.ConverterError, match='source'):
        B.convert('whu_aerial', src, src)           # .tif images would land in image/
    with pytest.raises(C.ConverterError, match='source folder'):
        B.convert('whu_aerial', src, src, lbl_dir='.')  # label_cvt inside the mask folder
    with pytest.raises(C.ConverterError, match=r'image/\*\.tif'):
        B.convert('whu_aerial', tmp_path / 'nope', tmp_path / 'out')


def test_cli_help_and_error():
    r = subprocess.run([sys.executable, str(CONVERTERS / 'binary_masks.py'), '--help'],
                       capture_output=True, text=True)
    assert r.returncode == 0 and 'gpcv.whu.edu.cn' in r.stdout and 'kaggle' in r.stdout
    r = subprocess.run([sys.executable, str(CONVERTERS / 'binary_masks.py'), '--dataset',
                        'chn6-cug', '--src', '/nonexistent', '--out', '/tmp/x'],
                       capture_output=True, text=True)
    assert r.returncode == 2 and 'images/<id>_sat.jpg' in r.stderr
