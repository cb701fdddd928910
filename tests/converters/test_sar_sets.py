import converter_helpers  # noqa: F401  (puts tools/dataset_converters on sys.path)
import numpy as np
import pytest
from PIL import Image

import common as C
import sar_sets as S
from converter_helpers import read, write_img


def test_sar_palettes_match_dataset_table():
    from segearth_ov.datasets.table import DATASETS_TABLE
    rows = {r.name: r for r in DATASETS_TABLE}
    pairs = {'DDHR_Korea_SARDataset': 'ddhrnet_korea_sar',
             'DDHR_Shandong_SARDataset': 'ddhrnet_shandong_sar',
             'DDHR_Xian_SARDataset': 'ddhrnet_xian_sar', 'FUSARDataset': 'fusar_sar',
             'PIESARDataset': 'pie_sar', 'YESegSARDataset': 'yeseg_sar',
             'OpenEarthMapDataset': 'openearthmap_sar'}
    for row, key in pairs.items():
        assert tuple(map(tuple, rows[row].palette)) == S.SPECS[key].palette, key
        assert (rows[row].img_suffix, rows[row].seg_map_suffix) == \
            (S.SPECS[key].img_ext, S.SPECS[key].lbl_ext), key


@pytest.mark.parametrize('dataset', ['yeseg_sar', 'ddhrnet_korea_sar', 'pie_sar'])
def test_palette_sets(tmp_path, dataset):
    spec = S.SPECS[dataset]
    src, out = tmp_path / 'download', tmp_path / 'data'
    n = len(spec.palette)
    idx = (np.arange(16).reshape(4, 4) % n).astype(np.uint8)
    colour = np.array(spec.palette, np.uint8)[idx]
    colour[1, 1] = (7, 7, 7)                           # unknown colour
    sar = np.arange(16, dtype=np.uint8).reshape(4, 4)
    write_img(src / spec.img_dir / f'a{spec.img_ext}', sar)
    write_img(src / spec.lbl_dir_in / f'a{spec.lbl_ext}', colour)
    write_img(src / spec.img_dir / f'b{spec.img_ext}', sar)
    write_img(src / spec.lbl_dir_in / f'b{spec.lbl_ext}', idx)   # already indices
    (src / spec.split).write_text('b\n')
    counts = S.convert_palette_set(dataset, src, out)
    assert counts == dict(labels=2, unknown_pixels=1, unpaired=0, split='copied')
    exp = idx.copy()
    exp[1, 1] = 255
    np.testing.assert_array_equal(read(out / spec.lbl_dir / f'a{spec.lbl_ext}'), exp)
    np.testing.assert_array_equal(read(out / spec.lbl_dir / f'b{spec.lbl_ext}'), idx)
    assert sorted(p.name for p in (out / spec.img_dir).iterdir()) == \
        [f'a{spec.img_ext}', f'b{spec.img_ext}']
    assert (out / spec.split).read_text() == 'b\n'


def test_yeseg_in_place_writes_cvt_label_and_split(tmp_path):
    spec = S.SPECS['yeseg_sar']
    root = tmp_path / 'YESeg-OPT-SAR'
    for name in ('x1', 'x2'):
        write_img(root / 'sar' / f'{name}.png', np.zeros((4, 4), np.uint8))
        write_img(root / 'label' / f'{name}.png',
                  np.full((4, 4, 3), spec.palette[3], np.uint8))
    counts = S.convert_palette_set('yeseg_sar', root, root)
    assert counts['split'] == 'all converted names'
    assert (root / 'test.txt').read_text() == 'x1\nx2\n'
    np.testing.assert_array_equal(read(root / 'cvt_label' / 'x2.png'), np.full((4, 4), 3))
    assert sorted(p.name for p in (root / 'sar').iterdir()) == ['x1.png', 'x2.png']


def test_whu_sar(tmp_path):
    src, out = tmp_path / 'WHU-OPT-SAR', tmp_path / 'whu-opt-sar'
    raw = np.array([[0, 10, 20, 30, 40, 50],
                    [60, 70, 15, 10, 10, 10],
                    [10, 10, 10, 10, 10, 10],
                    [10, 10, 10, 10, 10, 10]], np.uint8)
    sar = np.arange(24, dtype=np.uint8).reshape(4, 6)
    for scene in ('NH49E001013', 'NH49E001014'):
        write_img(src / 'sar' / f'{scene}.tif', sar)
        write_img(src / 'lbl' / f'{scene}.tif', raw)
    scenes = tmp_path / 'test_scenes.txt'
    scenes.write_text('NH49E001014.tif\n')
    counts = S.convert_whu_sar(src, out, scenes=scenes, crop=4)
    assert counts == dict(scenes=1, crops=2, unknown_pixels=1)
    base = out / 'crop4' / 'test'
    assert sorted(p.name for p in (base / 'ann_dir').iterdir()) == \
        ['NH49E001014_0_0.tif', 'NH49E001014_2_0.tif']
    assert sorted(p.name for p in (base / 'sar_dir').iterdir()) == \
        ['NH49E001014_0_0.tif', 'NH49E001014_2_0.tif']
    exp = np.where(raw % 10 == 0, raw // 10, 255).astype(np.uint8)
    with Image.open(base / 'ann_dir' / 'NH49E001014_2_0.tif') as im:
        assert im.format == 'TIFF'
        np.testing.assert_array_equal(np.asarray(im), exp[:, 2:6])
    np.testing.assert_array_equal(read(base / 'sar_dir' / 'NH49E001014_0_0.tif'), sar[:, :4])


def test_sar_errors(tmp_path):
    with pytest.raises(C.ConverterError, match='cvt_label|label/<name>.png'):
        S.convert_palette_set('yeseg_sar', tmp_path / 'none', tmp_path / 'out')
    with pytest.raises(C.ConverterError, match='lbl/<scene>.tif'):
        S.convert_whu_sar(tmp_path / 'none', tmp_path / 'out')
