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
        assert rows[row].classes == S.CLASSES[key], key
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
    with pytest.raises(C.ConverterError, match=r'a\.\w+: 1 of 16 pixels .*\(7, 7, 7\) 1 px'):
        S.convert_palette_set(dataset, src, out)          # default --max-unknown 0.001
    counts = S.convert_palette_set(dataset, src, out, max_unknown=0.1)
    assert counts['files'] == 2 and counts['unknown'] == {(7, 7, 7): 1}
    assert counts['skipped'] == []
    assert counts['split'] == ('from val.txt' if spec.split.endswith('val.txt')
                               else 'from test.txt')
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
    counts = S.convert_palette_set('yeseg_sar', src, out, max_unknown=0.1)
    # official 0 and 7 are known "no label" values (→ 255); only 9 maps to no class
    assert counts['unknown'] == {9: 2} and counts['split'] == 'all converted names'
    assert counts['pixels']['ignored'] == 2 * 3      # 0, 7 and 9 in each file
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
    assert counts['files'] == 2 and counts['unknown'] == {}
    assert counts['split'] == 'from valM_list.txt'
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
    with pytest.raises(C.ConverterError, match=r'NH49E001014.tif: 1 of 24 pixels .*: 15 1 px'):
        S.convert_whu_sar(src, out, scenes=scenes, crop=4)
    counts = S.convert_whu_sar(src, out, scenes=scenes, crop=4, max_unknown=0.05)
    assert counts['scenes'] == 1 and counts['files'] == 2 and counts['unknown'] == {15: 1}
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


FUSAR = {'black': (0, 0, 0), 'blue': (0, 0, 255), 'yellow': (255, 255, 0),
         'red': (255, 0, 0), 'green': (0, 255, 0)}


def test_fusar_official_release_yellow_roads_and_sar_label_pairing(tmp_path):
    src, out = tmp_path / 'FUSAR-Map', tmp_path / 'data' / 'FUSAR-Map'
    base = src / 'Datasets'
    colours = np.array([FUSAR[c] for c in ('black', 'blue', 'yellow', 'red', 'green')],
                       np.uint8)
    idx = (np.arange(16).reshape(4, 4) % 5).astype(np.uint8)
    for loc in ('JiuJiang_01_01_01_01', 'ShangHai_03_02_01_04'):
        n = '001' if loc.startswith('Jiu') else '417'
        write_img(base / 'sar_1024' / f'{loc}_SAR_{n}.tif', np.full((4, 4), 77, np.uint8))
        write_img(base / 'lab_1024' / f'{loc}_Label_{n}.tif', colours[idx])
        write_img(base / 'opt_1024' / f'{loc}_OPT_{n}.tif', np.zeros((4, 4, 3), np.uint8))
        (base / 'dem_1024').mkdir(exist_ok=True)
        Image.fromarray(np.zeros((4, 4), np.uint16)).save(base / 'dem_1024' / f'{loc}_DEM_{n}.tif')
    import runpy
    from converter_helpers import CONVERTERS
    entry = runpy.run_path(str(CONVERTERS / 'fusar_sar.py'), run_name='fusar_test')
    entry['main'](['--src', str(src), '--out', str(out)])
    names = ['JiuJiang_01_01_01_01_SAR_001', 'ShangHai_03_02_01_04_SAR_417']
    # classes of FUSARDataset: background, water, road, building, vegetation
    for name in names:
        np.testing.assert_array_equal(read(out / 'label' / f'{name}.png'), idx)
        np.testing.assert_array_equal(read(out / 'sar' / f'{name}.tif'), np.full((4, 4), 77))
    assert (out / 'test.txt').read_text() == ''.join(f'{n}\n' for n in names)
    # a label coded the old way (white roads) is refused, naming colour, pixels and file
    write_img(base / 'lab_1024' / 'WuHan_05_01_01_01_Label_600.tif',
              np.full((4, 4, 3), 255, np.uint8))
    write_img(base / 'sar_1024' / 'WuHan_05_01_01_01_SAR_600.tif', np.zeros((4, 4), np.uint8))
    with pytest.raises(C.ConverterError, match=r'WuHan_05_01_01_01_Label_600.tif: 16 of 16 '
                                               r'pixels .*\(255, 255, 255\) 16 px'):
        S.convert_palette_set('fusar_sar', base, tmp_path / 'o2')   # --src = Datasets/
    assert not (tmp_path / 'o2' / 'label' / 'WuHan_05_01_01_01_SAR_600.png').exists()
    # the option the message names exists: with it, such pixels are written as 255
    entry['main'](['--src', str(base), '--out', str(tmp_path / 'o3'), '--max-unknown', '1'])
    np.testing.assert_array_equal(read(tmp_path / 'o3' / 'label' / 'WuHan_05_01_01_01_SAR_600.png'),
                                  np.full((4, 4), 255))


def test_fusar_summary_skips_an_unpaired_label(tmp_path, capsys):
    base = tmp_path / 'FUSAR-Map' / 'Datasets'
    write_img(base / 'sar_1024' / 'JiuJiang_01_01_01_01_SAR_001.tif', np.zeros((4, 4), np.uint8))
    write_img(base / 'lab_1024' / 'JiuJiang_01_01_01_01_Label_001.tif',
              np.full((4, 4, 3), FUSAR['yellow'], np.uint8))
    write_img(base / 'lab_1024' / 'JiuJiang_01_01_01_01_Label_002.tif',
              np.full((4, 4, 3), FUSAR['red'], np.uint8))
    counts = S.convert_palette_set('fusar_sar', tmp_path / 'FUSAR-Map', tmp_path / 'out')
    assert counts['files'] == 1 and counts['pixels'] == {'road': 16}
    assert counts['skipped'][0][0].endswith('JiuJiang_01_01_01_01_Label_002.tif')
    assert 'no SAR image JiuJiang_01_01_01_01_SAR_002.tif' in counts['skipped'][0][1]
    out = capsys.readouterr().out
    assert 'fusar_sar: 1 label files written' in out and 'road 16 (100.0%)' in out
    assert 'skipped ' in out and 'JiuJiang_01_01_01_01_Label_002.tif' in out


def test_sar_errors(tmp_path):
    with pytest.raises(C.ConverterError, match=r'label/\[<region>/\]<name>.png'):
        S.convert_palette_set('yeseg_sar', tmp_path / 'none', tmp_path / 'out')
    with pytest.raises(C.ConverterError, match='lbl/<scene>.tif'):
        S.convert_whu_sar(tmp_path / 'none', tmp_path / 'out')
