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
    official = dict(spec.index_map)       # the official index coding where it differs
    raw = {cls: value for value, cls in official.items()}
    write_img(src / spec.lbl_dir_in / f'b{spec.lbl_ext}',
              np.vectorize(lambda v: raw.get(v, v))(idx) if official else idx)
    (src / spec.split).write_text('b\n')
    counts = S.convert_palette_set(dataset, src, out)
    assert counts == dict(labels=2, unknown_pixels=1, unpaired=0, split='from val.txt'
                          if spec.split.endswith('val.txt') else 'from test.txt')
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


def test_yeseg_official_coding_and_region_folders(tmp_path):
    """Official release: label/<region>/<n>.png with 0 background, 1 bare ground … 6 roads,
    7 other; the config's cvt_label holds 0…5 (bare ground … roads), 0 and 7 ignored."""
    src, out = tmp_path / 'YESeg-OPT-SAR-download', tmp_path / 'YESeg-OPT-SAR'
    raw = np.array([[0, 1, 2, 3], [4, 5, 6, 7], [1, 1, 1, 1], [6, 6, 6, 9]], np.uint8)
    for region in ('1', 'HY_C'):
        write_img(src / 'sar' / region / '7.png', np.full((4, 4), 50, np.uint8))
        write_img(src / 'label' / region / '7.png', raw)
    counts = S.convert_palette_set('yeseg_sar', src, out)
    assert counts == dict(labels=2, unknown_pixels=6, unpaired=0, split='all converted names')
    exp = np.array([[255, 0, 1, 2], [3, 4, 5, 255], [0, 0, 0, 0], [5, 5, 5, 255]], np.uint8)
    np.testing.assert_array_equal(read(out / 'cvt_label' / 'HY_C_7.png'), exp)
    assert sorted(p.name for p in (out / 'sar').iterdir()) == ['1_7.png', 'HY_C_7.png']
    assert (out / 'test.txt').read_text() == '1_7\nHY_C_7\n'
    with pytest.raises(C.ConverterError, match='sub-folders'):
        S.convert_palette_set('yeseg_sar', src, src)        # nested images cannot stay


def test_ddhrnet_official_layout_palette_png_and_valm_list(tmp_path):
    """DDHRNet release: GF3/ SAR images, index labels saved as palette PNGs, valM_list.txt
    with three paths a line."""
    src, out = tmp_path / 'DATA', tmp_path / 'DDHRNet_DATA'
    base = src / 'korea' / 'no_cloud'
    idx = (np.arange(16).reshape(4, 4) % 5).astype(np.uint8)
    for n in ('5434', '7'):
        write_img(base / 'GF3' / f'{n}.jpg', np.full((4, 4), 90, np.uint8))
        pal = Image.fromarray(idx, mode='P')
        pal.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0, 0, 0, 128] + [0] * 753)
        (base / 'label').mkdir(parents=True, exist_ok=True)
        pal.save(base / 'label' / f'{n}.png')
    (base / 'valM_list.txt').write_text(
        '/w/DATA/korea/256/GF2/5434.jpg /w/DATA/korea/256/GF3/5434.jpg '
        '/w/DATA/korea/256/label/5434.png\n')
    counts = S.convert_palette_set('ddhrnet_korea_sar', src, out)
    assert counts == dict(labels=2, unknown_pixels=0, unpaired=0, split='from valM_list.txt')
    lab = out / 'korea' / 'no_cloud' / 'label' / '5434.png'
    with Image.open(lab) as im:
        assert im.mode == 'L'
    np.testing.assert_array_equal(read(lab), idx)     # indices, not palette colours
    assert (out / 'korea' / 'no_cloud' / 'val.txt').read_text() == '5434\n'
    assert sorted(p.name for p in (out / 'korea' / 'no_cloud' / 'sar').iterdir()) == \
        ['5434.jpg', '7.jpg']


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


def test_whu_sar_default_scenes_are_the_shipped_test_list(tmp_path):
    shipped = S.WHU_SAR_SCENES.read_text().split()
    assert len(shipped) == 20 and len(set(shipped)) == 20
    assert 'NH49E001014' in shipped and 'NH49E001013' not in shipped   # a train scene
    src = tmp_path / 'WHU-OPT-SAR'
    for scene in ('NH49E001013', 'NH49E001014'):
        write_img(src / 'sar' / f'{scene}.tif', np.zeros((4, 4), np.uint8))
        write_img(src / 'lbl' / f'{scene}.tif', np.full((4, 4), 40, np.uint8))
    assert S.convert_whu_sar(src, tmp_path / 'a', crop=4)['scenes'] == 1
    assert S.convert_whu_sar(src, tmp_path / 'b', scenes='all', crop=4)['scenes'] == 2
    with pytest.raises(C.ConverterError, match='scene list not found'):
        S.convert_whu_sar(src, tmp_path / 'c', scenes=tmp_path / 'none.txt')


def test_sar_errors(tmp_path):
    with pytest.raises(C.ConverterError, match=r'label/\[<region>/\]<name>.png'):
        S.convert_palette_set('yeseg_sar', tmp_path / 'none', tmp_path / 'out')
    with pytest.raises(C.ConverterError, match='lbl/<scene>.tif'):
        S.convert_whu_sar(tmp_path / 'none', tmp_path / 'out')
