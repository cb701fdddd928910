import converter_helpers  # noqa: F401  (puts tools/dataset_converters on sys.path)
import io
import subprocess
import sys
import zipfile

import mmengine.utils.progressbar  # noqa: F401
import numpy as np
import pytest
from PIL import Image

import common as C
import mmseg_sets
from converter_helpers import CONVERTERS, read, rgb  # noqa: F401  (fixture)

# mmseg's converters draw mmengine's ProgressBar, whose `file=sys.stdout` default is bound when
# mmengine is first imported. Importing it here, at collection, binds pytest's session stdout;
# imported first inside a capsys test it would bind that test's stream, closed afterwards
# ('I/O operation on closed file' in every later converter run).


@pytest.mark.parametrize('dataset', sorted(mmseg_sets.SETS))
def test_mmseg_converter_shipped_and_help(dataset, capsys):
    assert mmseg_sets.mmseg_converter(dataset).is_file()
    with pytest.raises(SystemExit) as e:
        mmseg_sets.main(['--dataset', dataset, '--help'])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert 'official source' in out and 'out_dir' in out      # ours + mmseg's own help


def test_mmseg_sets_help_and_refusals(tmp_path):
    r = subprocess.run([sys.executable, str(CONVERTERS / 'mmseg_sets.py'), '--help'],
                       capture_output=True, text=True)
    assert r.returncode == 0 and 'LoveDA' in r.stdout and 'isprs.org' in r.stdout
    with pytest.raises(C.ConverterError, match='Train.zip'):
        mmseg_sets.run('loveda', [str(tmp_path / 'missing'), '-o', str(tmp_path / 'out')])
    with pytest.raises(C.ConverterError, match='source folder'):
        mmseg_sets.run('loveda', [str(tmp_path), '-o', str(tmp_path / 'LoveDA')])


def _png(arr):
    b = io.BytesIO()
    Image.fromarray(arr).save(b, format='PNG')
    return b.getvalue()


def test_loveda_end_to_end(tmp_path, rgb):
    src, out = tmp_path / 'download', tmp_path / 'data' / 'LoveDA'
    src.mkdir()
    mask = (np.arange(16).reshape(4, 4) % 8).astype(np.uint8)   # 0 = no-data, 1..7 classes
    for split in ('Train', 'Val', 'Test'):
        with zipfile.ZipFile(src / f'{split}.zip', 'w') as z:
            for loc, n in (('Rural', 1), ('Urban', 2)):
                name = f'{split}{n}.png'
                z.writestr(f'{split}/{loc}/images_png/{name}', _png(rgb(4, 4, seed=n)))
                if split != 'Test':
                    z.writestr(f'{split}/{loc}/masks_png/{name}', _png(mask))
    mmseg_sets.main(['--dataset', 'loveda', str(src), '-o', str(out)])
    assert sorted(p.name for p in (out / 'img_dir' / 'val').iterdir()) == ['Val1.png', 'Val2.png']
    assert sorted(p.name for p in (out / 'ann_dir' / 'val').iterdir()) == ['Val1.png', 'Val2.png']
    np.testing.assert_array_equal(read(out / 'ann_dir' / 'val' / 'Val2.png'), mask)
    assert sorted(p.name for p in src.iterdir()) == ['Test.zip', 'Train.zip', 'Val.zip']


# --------------------------------------------------------------------------- ISPRS, iSAID

def _tif(arr):
    b = io.BytesIO()
    Image.fromarray(arr).save(b, format='TIFF')
    return b.getvalue()


# ISPRS label colours (RGB): impervious white, building blue, low vegetation cyan, tree
# green, car yellow, clutter red; black = the eroded boundary of the *_noBoundary labels
# (ISPRS 2D labeling pages; torchgeo Potsdam2D/Vaihingen2D colormap). mmseg's converters
# turn them into 1…6 (0 = boundary, ignored through reduce_zero_label).
ISPRS_RGB = [(0, 0, 0), (255, 255, 255), (0, 0, 255), (0, 255, 255), (0, 255, 0),
             (255, 255, 0), (255, 0, 0)]


def isprs_label(seed=0):
    """An 8 x 8 RGB colour label and the class indices mmseg should write for it."""
    index = np.random.RandomState(seed).randint(0, 7, (8, 8)).astype(np.uint8)
    return np.array(ISPRS_RGB, np.uint8)[index], index


def _zip(path, members):
    with zipfile.ZipFile(path, 'w') as z:
        for name, data in members.items():
            z.writestr(name, data)


def potsdam_package(src, rgb, with_extras=True):
    """The full ISPRS Potsdam package: mmseg needs 2_Ortho_RGB.zip and
    5_Labels_all_noBoundary.zip (mmsegmentation 2_dataset_prepare.md); the package also holds
    1_DSM, 3_Ortho_IRRG, 4_Ortho_RGBIR (4-band), 5_Labels_all (torchgeo Potsdam2D test data:
    4_Ortho_RGBIR/top_potsdam_2_10_RGBIR.tif, top_potsdam_2_10_label.tif at the zip root).
    Tile 2_13 is in mmseg's val split."""
    src.mkdir()
    colour, index = isprs_label()
    eroded = colour.copy()
    eroded[3] = 0                                   # an eroded boundary row (black)
    _zip(src / '2_Ortho_RGB.zip', {'2_Ortho_RGB/top_potsdam_2_13_RGB.tif': _tif(rgb)})
    _zip(src / '5_Labels_all_noBoundary.zip',
         {'top_potsdam_2_13_label_noBoundary.tif': _tif(eroded)})
    if with_extras:
        _zip(src / '1_DSM.zip', {'1_DSM/dsm_potsdam_02_13.tif':
                                 _tif(np.full((8, 8), 35.5, np.float32))})
        _zip(src / '3_Ortho_IRRG.zip', {'3_Ortho_IRRG/top_potsdam_2_13_IRRG.tif': _tif(255 - rgb)})
        _zip(src / '4_Ortho_RGBIR.zip', {'4_Ortho_RGBIR/top_potsdam_2_13_RGBIR.tif':
                                         _tif(np.dstack([rgb // 2, rgb[..., :1]]))})
        _zip(src / '5_Labels_all.zip', {'top_potsdam_2_13_label.tif': _tif(colour)})
    index = index.copy()
    index[3] = 0
    return index


def test_potsdam_full_isprs_package_cuts_only_rgb_and_eroded_labels(tmp_path, rgb, capsys):
    src, out = tmp_path / 'Potsdam', tmp_path / 'data' / 'potsdam'
    image = rgb(8, 8, seed=3)
    index = potsdam_package(src, image)
    mmseg_sets.main(['--dataset', 'potsdam', str(src), '-o', str(out),
                     '--clip_size', '4', '--stride_size', '4'])
    crops = ['2_13_0_0_4_4.png', '2_13_0_4_4_8.png', '2_13_4_0_8_4.png', '2_13_4_4_8_8.png']
    assert sorted(p.name for p in (out / 'img_dir' / 'val').iterdir()) == crops   # no DSM crops
    assert sorted(p.name for p in (out / 'ann_dir' / 'val').iterdir()) == crops
    for name in crops:
        x0, y0, x1, y1 = map(int, name[:-4].split('_')[2:])
        np.testing.assert_array_equal(read(out / 'img_dir' / 'val' / name), image[y0:y1, x0:x1])
        np.testing.assert_array_equal(read(out / 'ann_dir' / 'val' / name), index[y0:y1, x0:x1])
    printed = capsys.readouterr().out
    assert 'not used: 1_DSM.zip, 3_Ortho_IRRG.zip, 4_Ortho_RGBIR.zip, 5_Labels_all.zip' in printed
    assert 'files written: img_dir/train 0, img_dir/val 4' in printed
    assert len(list(src.iterdir())) == 6                                        # untouched


def test_potsdam_refuses_ambiguous_zips(tmp_path, rgb):
    src = tmp_path / 'Potsdam'
    potsdam_package(src, rgb(8, 8), with_extras=False)
    # an RGB zip that also holds the IRRG tile: mmseg would cut both into 2_13_*.png
    _zip(src / '2_Ortho_RGB.zip', {'2_Ortho_RGB/top_potsdam_2_13_RGB.tif': _tif(rgb(8, 8)),
                                   '2_Ortho_RGB/top_potsdam_2_13_IRRG.tif': _tif(rgb(8, 8))})
    with pytest.raises(C.ConverterError, match='top_potsdam_2_13_IRRG.tif'):
        mmseg_sets.run('potsdam', [str(src), '-o', str(tmp_path / 'out')])
    (src / '5_Labels_all_noBoundary.zip').unlink()
    with pytest.raises(C.ConverterError, match='lacks 5_Labels_all_noBoundary.zip.*found: '
                                               '2_Ortho_RGB.zip'):
        mmseg_sets.run('potsdam', [str(src), '-o', str(tmp_path / 'out')])


def test_potsdam_label_colours_outside_the_coding_are_an_error(tmp_path, rgb):
    src = tmp_path / 'Potsdam'
    potsdam_package(src, rgb(8, 8), with_extras=False)
    colour, _ = isprs_label()
    colour[0, :2] = (128, 128, 128)                  # 2 of 64 px: no ISPRS class
    _zip(src / '5_Labels_all_noBoundary.zip',
         {'top_potsdam_2_13_label_noBoundary.tif': _tif(colour)})
    with pytest.raises(C.ConverterError, match=r'\(128, 128, 128\) 2 px'):
        mmseg_sets.run('potsdam', [str(src), '-o', str(tmp_path / 'out')])
    assert not (tmp_path / 'out').exists()                                   # nothing written
    mmseg_sets.run('potsdam', [str(src), '-o', str(tmp_path / 'out'), '--max-unknown', '0.05',
                               '--clip_size', '8'])
    assert (tmp_path / 'out' / 'ann_dir' / 'val' / '2_13_0_0_8_8.png').is_file()


def test_vaihingen_with_the_non_eroded_ground_truth_beside(tmp_path, rgb, capsys):
    """ISPRS_semantic_labeling_Vaihingen.zip holds top/top_mosaic_09cm_area<N>.tif; the eroded
    ground truth top_mosaic_09cm_area<N>_noBoundary.tif at its root (mmseg's vaihingen.py);
    the non-eroded ISPRS_semantic_labeling_Vaihingen_ground_truth_COMPLETE.zip holds
    top_mosaic_09cm_area<N>.tif at its root (torchgeo Vaihingen2D test data) — the same name
    as the image. area6 is in mmseg's val split."""
    src, out = tmp_path / 'Vaihingen', tmp_path / 'data' / 'vaihingen'
    src.mkdir()
    image = rgb(8, 8, seed=5)
    colour, index = isprs_label(seed=1)
    _zip(src / 'ISPRS_semantic_labeling_Vaihingen.zip',
         {'top/top_mosaic_09cm_area6.tif': _tif(image)})
    _zip(src / 'ISPRS_semantic_labeling_Vaihingen_ground_truth_eroded_COMPLETE.zip',
         {'top_mosaic_09cm_area6_noBoundary.tif': _tif(colour)})
    _zip(src / 'ISPRS_semantic_labeling_Vaihingen_ground_truth_COMPLETE.zip',
         {'top_mosaic_09cm_area6.tif': _tif(np.array(ISPRS_RGB, np.uint8)[np.ones((8, 8), int)])})
    mmseg_sets.main(['--dataset', 'vaihingen', str(src), '-o', str(out), '--clip_size', '8'])
    assert [p.name for p in (out / 'img_dir' / 'val').iterdir()] == ['area6_0_0_8_8.png']
    np.testing.assert_array_equal(read(out / 'img_dir' / 'val' / 'area6_0_0_8_8.png'), image)
    np.testing.assert_array_equal(read(out / 'ann_dir' / 'val' / 'area6_0_0_8_8.png'), index)
    assert 'not used: ISPRS_semantic_labeling_Vaihingen_ground_truth_COMPLETE.zip' in \
        capsys.readouterr().out


# iSAID colours (RGB) of mmseg's isaid.py palette: background black, ship (0, 0, 63),
# store tank (0, 63, 63), …, harbor (0, 100, 155).
ISAID_RGB = [(0, 0, 0), (0, 0, 63), (0, 63, 63), (0, 63, 0), (0, 63, 127), (0, 63, 191),
             (0, 63, 255), (0, 127, 63), (0, 127, 127), (0, 0, 127), (0, 0, 191),
             (0, 0, 255), (0, 191, 127), (0, 127, 191), (0, 127, 255), (0, 100, 155)]


def test_isaid_without_test_folder(tmp_path, rgb, capsys):
    """iSAID as downloaded for evaluation: DOTA-v1.0 images <split>/images/part1.zip
    (images/P0003.png) and iSAID's <split>/Semantic_masks/images.zip
    (images/P0003_instance_color_RGB.png) for train and val (mmsegmentation
    2_dataset_prepare.md); no test/ — its masks are withheld (iSAID_Devkit README)."""
    src, out = tmp_path / 'iSAID', tmp_path / 'data' / 'iSAID'
    index = np.random.RandomState(2).randint(0, 16, (8, 8)).astype(np.uint8)
    mask = np.array(ISAID_RGB, np.uint8)[index]
    for split, tile in (('train', 'P0002'), ('val', 'P0003')):
        (src / split / 'images').mkdir(parents=True)
        (src / split / 'Semantic_masks').mkdir()
        _zip(src / split / 'images' / 'part1.zip', {f'images/{tile}.png': _png(rgb(8, 8))})
        _zip(src / split / 'Semantic_masks' / 'images.zip',
             {f'images/{tile}_instance_color_RGB.png': _png(mask)})
    mmseg_sets.main(['--dataset', 'isaid', str(src), '-o', str(out), '--patch_width', '8',
                     '--patch_height', '8', '--overlap_area', '0'])
    assert [p.name for p in (out / 'img_dir' / 'val').iterdir()] == ['P0003_0_8_0_8.png']
    np.testing.assert_array_equal(
        read(out / 'ann_dir' / 'val' / 'P0003_0_8_0_8_instance_color_RGB.png'), index)
    assert not (src / 'test').exists()
    assert 'test/: not in the download' in capsys.readouterr().out
    with pytest.raises(C.ConverterError, match='val not found'):
        mmseg_sets.run('isaid', [str(tmp_path / 'data'), '-o', str(tmp_path / 'o2')])
