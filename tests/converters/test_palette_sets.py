import converter_helpers  # noqa: F401  (puts tools/dataset_converters on sys.path)
import numpy as np
import pytest
from PIL import Image

import common as C
import openearthmap
import udd5_vdd
import uavid
from converter_helpers import read, write_img, rgb  # noqa: F401  (fixture)


def test_palettes_match_dataset_table():
    from segearth_ov.datasets.table import DATASETS_TABLE
    rows = {r.name: r for r in DATASETS_TABLE}
    for name, key in (('UDD5Dataset', 'udd5'), ('VDDDataset', 'vdd')):
        assert tuple(map(tuple, rows[name].palette)) == udd5_vdd.SPECS[key].palette
        assert rows[name].classes == udd5_vdd.SPECS[key].classes
    uav = rows['UAVidDataset'].palette
    for i, colour in enumerate(uav):
        assert uavid.PALETTE[tuple(colour)] == i
    assert uavid.PALETTE[(64, 0, 128)] == 3            # moving car → car


def test_uavid(tmp_path, rgb):
    src, out = tmp_path / 'test_gt', tmp_path / 'UAVid'
    colours = np.array([c for c in uavid.PALETTE] + [(10, 20, 30)], np.uint8)  # + unknown
    lab_idx = np.arange(6 * 4).reshape(6, 4) % len(colours)
    for seq in ('seq1', 'seq2'):
        write_img(src / seq / 'Images' / '000100.png', rgb(6, 4))
        write_img(src / seq / 'Labels' / '000100.png', colours[lab_idx])
    with pytest.raises(C.ConverterError, match=r'seq1/Labels/000100.png: 2 of 24 pixels '
                                               r'.*\(10, 20, 30\) 2 px'):
        uavid.convert(src, out, patch_h=4, patch_w=4)
    counts = uavid.convert(src, out, patch_h=4, patch_w=4, max_unknown=0.1)
    # 6 high: patches y 0-4 and 2-6 (shifted back); 4 wide: one column
    assert counts['frames'] == 2 and counts['files'] == 4
    assert counts['unknown'] == {(10, 20, 30): 2 * 2}                  # idx 8 at 8, 17
    names = sorted(p.name for p in (out / 'ann_dir' / 'test').iterdir())
    assert names == [f'{s}_000100_{y0}_{y0 + 4}_0_4.png' for s in ('seq1', 'seq2')
                     for y0 in (0, 2)]
    assert sorted(p.name for p in (out / 'img_dir' / 'test').iterdir()) == names
    expected = np.array([uavid.PALETTE.get(tuple(c), 255) for c in colours])[lab_idx]
    np.testing.assert_array_equal(read(out / 'ann_dir' / 'test' / 'seq2_000100_2_6_0_4.png'),
                                  expected[2:6])
    np.testing.assert_array_equal(read(out / 'img_dir' / 'test' / 'seq1_000100_0_4_0_4.png'),
                                  rgb(6, 4)[:4])


def test_uavid_pads_small_frames(tmp_path, rgb):
    src = tmp_path / 'uavid_val'
    write_img(src / 'seq9' / 'Images' / 'f.png', rgb(3, 4))
    write_img(src / 'seq9' / 'Labels' / 'f.png', np.full((3, 4, 3), (128, 0, 0), np.uint8))
    counts = uavid.convert(src, tmp_path / 'out', patch_h=4, patch_w=4)
    assert counts['pixels'] == {'building': 12, 'ignored': 4}         # padding row → 255
    lab = read(tmp_path / 'out' / 'ann_dir' / 'test' / 'seq9_f_0_4_0_4.png')
    np.testing.assert_array_equal(lab, np.array([[1] * 4] * 3 + [[255] * 4]))


@pytest.mark.parametrize('dataset', ['udd5', 'vdd'])
def test_udd5_vdd_colour_and_index_labels(tmp_path, rgb, dataset):
    spec = udd5_vdd.SPECS[dataset]
    src, out = tmp_path / 'download', tmp_path / dataset.upper()
    idx = (np.arange(16).reshape(4, 4) % len(spec.classes)).astype(np.uint8)
    colour = np.array(spec.palette, np.uint8)[idx]
    colour[0, 0] = (1, 2, 3)                                    # unknown colour
    write_img(src / spec.split / 'src' / 'DJI_0001.JPG', rgb(4, 4))
    write_img(src / spec.split / 'gt' / 'DJI_0001.png', colour)
    write_img(src / spec.split / 'src' / 'DJI_0002.JPG', rgb(4, 4, seed=1))
    grey = idx.copy()
    grey[3, 3] = 200                                            # out of range
    write_img(src / spec.split / 'gt' / 'DJI_0002.png', grey)
    with pytest.raises(C.ConverterError, match=r'DJI_0001.png: 1 of 16 pixels'):
        udd5_vdd.convert(dataset, src, out)
    counts = udd5_vdd.convert(dataset, src, out, max_unknown=0.1)
    assert counts['files'] == 2 and counts['unknown'] == {(1, 2, 3): 1, 200: 1}
    exp1 = idx.copy()
    exp1[0, 0] = 255
    np.testing.assert_array_equal(read(out / spec.split / 'gt' / 'DJI_0001.png'), exp1)
    exp2 = idx.copy()
    exp2[3, 3] = 255
    np.testing.assert_array_equal(read(out / spec.split / 'gt' / 'DJI_0002.png'), exp2)
    assert sorted(p.name for p in (out / spec.split / 'src').iterdir()) == \
        ['DJI_0001.JPG', 'DJI_0002.JPG']


def test_udd5_palette_png_gt_is_read_by_index(tmp_path, rgb):
    """An index gt saved as a palette PNG keeps its indices (not its palette colours)."""
    from PIL import Image
    src, out = tmp_path / 'UDD5-download', tmp_path / 'UDD5'
    idx = (np.arange(16).reshape(4, 4) % 5).astype(np.uint8)
    write_img(src / 'val' / 'src' / 'DJI_0100.JPG', rgb(4, 4))
    pal = Image.fromarray(idx, mode='P')
    pal.putpalette([9, 9, 9] * 256)                   # colours unrelated to the classes
    (src / 'val' / 'gt').mkdir(parents=True)
    pal.save(src / 'val' / 'gt' / 'DJI_0100.png')
    counts = udd5_vdd.convert('udd5', src, out)
    assert counts['files'] == 1 and counts['unknown'] == {}
    np.testing.assert_array_equal(read(out / 'val' / 'gt' / 'DJI_0100.png'), idx)


def test_openearthmap(tmp_path, rgb):
    src, out = tmp_path / 'OpenEarthMap', tmp_path / 'OpenEarthMap_val'
    lab = (np.arange(16).reshape(4, 4) % 9).astype(np.uint8)
    for region, name in (('aachen', 'aachen_1'), ('aachen', 'aachen_2'), ('kyoto', 'kyoto_3')):
        write_img(src / region / 'images' / f'{name}.tif', rgb(4, 4))
        bad = lab.copy()
        if name == 'kyoto_3':
            bad[0, 0] = 12
        write_img(src / region / 'labels' / f'{name}.tif', bad)
    (src / 'val.txt').write_text('aachen_1.tif\nkyoto_3.tif\n')
    counts = openearthmap.convert(src, out, max_unknown=0.1)
    assert counts['files'] == 2 and counts['unknown'] == {12: 1} and counts['skipped'] == []
    assert sorted(p.name for p in (out / 'images').iterdir()) == ['aachen_1.tif', 'kyoto_3.tif']
    assert sorted(p.name for p in (out / 'labels').iterdir()) == ['aachen_1.tif', 'kyoto_3.tif']
    np.testing.assert_array_equal(read(out / 'labels' / 'aachen_1.tif'), lab)
    exp = lab.copy()
    exp[0, 0] = 255
    with Image.open(out / 'labels' / 'kyoto_3.tif') as im:
        assert im.format == 'TIFF'
        np.testing.assert_array_equal(np.asarray(im), exp)
    with pytest.raises(C.ConverterError, match='val.txt'):
        openearthmap.convert(tmp_path / 'aachen', tmp_path / 'o2')
