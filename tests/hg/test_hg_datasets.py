"""HG-RSOVSSeg's datasets: converters on tiny synthetic downloads, background ignored through
the configs' class subsets, and the training-fraction wrapper."""
from __future__ import annotations

import runpy

import numpy as np
import pytest
import rasterio
from PIL import Image

from conftest import ROOT

CONVERTERS = ROOT / 'tools' / 'dataset_converters'
pytestmark = pytest.mark.filterwarnings('ignore::rasterio.errors.NotGeoreferencedWarning')
HG = runpy.run_path(str(CONVERTERS / 'hg_sets.py'), run_name='hg_sets_test')


def write_tif(path, bands: np.ndarray):
    """bands: C×H×W uint8."""
    path.parent.mkdir(parents=True, exist_ok=True)
    c, h, w = bands.shape
    with rasterio.open(path, 'w', driver='GTiff', width=w, height=h, count=c,
                       dtype='uint8') as dst:
        dst.write(bands)


def read(path):
    return np.array(Image.open(path))


def test_gid_large_tiles_colours_and_split(tmp_path):
    src, rng = tmp_path / 'GID', np.random.default_rng(0)
    colours = list(HG['GID_COLOURS'])
    for i in range(5):
        write_tif(src / 'image_RGB' / f'GF2_{i}.tif', rng.integers(0, 255, (4, 520, 600), np.uint8))
        lab = np.zeros((520, 600, 3), np.uint8)
        lab[:, :100] = colours[2]                 # farmland → 2
        lab[:, 100:200] = (255, 0, 0)             # built-up → 1
        lab[:10, :10] = (12, 34, 56)              # unknown colour (0.03 %) → 255, listed
        write_tif(src / 'label_5classes' / f'GF2_{i}_label.tif', lab.transpose(2, 0, 1))
    counts = HG['convert_gid_large'](src, tmp_path / 'out')
    assert counts['train'] == 4 * 4 and counts['val'] == 4       # 2×2 tiles, scene 4 → val
    assert counts['unknown'] == {(12, 34, 56): 5 * 100} and counts['files'] == 20
    tiles = sorted((tmp_path / 'out' / 'ann_dir' / 'val').iterdir())
    assert [t.name for t in tiles] == ['GF2_4_0_0.png', 'GF2_4_0_88.png', 'GF2_4_8_0.png',
                                       'GF2_4_8_88.png']
    lab = read(tiles[0])
    assert lab.shape == (512, 512) and lab[0, 0] == 255 and lab[50, 50] == 2 and lab[50, 150] == 1
    img = read(tmp_path / 'out' / 'img_dir' / 'val' / 'GF2_4_8_88.png')
    with rasterio.open(src / 'image_RGB' / 'GF2_4.tif') as f:
        assert np.array_equal(img, f.read([1, 2, 3])[:, 8:, 88:].transpose(1, 2, 0))


def test_flair1_keeps_twelve_classes(tmp_path):
    src = tmp_path / 'FLAIR'
    code = np.resize(np.arange(1, 20, dtype=np.uint8), 40).reshape(1, 8, 5)   # codes 1..19
    for split, ident in (('flair_aerial_train/D01/Z1', '001'), ('flair_1_aerial_test/D02', '002')):
        write_tif(src / split / 'img' / f'IMG_{ident}.tif', np.full((5, 8, 5), 7, np.uint8))
        write_tif(src / split.replace('aerial', 'labels') / 'msk' / f'MSK_{ident}.tif', code)
    counts = HG['convert_flair1'](src, tmp_path / 'out')
    assert counts['train'] == 1 and counts['val'] == 1 and counts['skipped'] == []
    lab = read(tmp_path / 'out' / 'ann_dir' / 'val' / 'IMG_002.png').ravel()
    assert list(lab) == [c if c <= 12 else 0 for c in code.ravel()]
    assert read(tmp_path / 'out' / 'img_dir' / 'train' / 'IMG_001.png').shape == (8, 5, 3)


def test_landcover_ai_official_tiles(tmp_path):
    """LandCover.ai v1 (landcover.ai.v1.zip): images/<name>.tif RGB and masks/<name>.tif
    single-band codes 0..4, and the tile lists of its split.py, whose counter k advances
    for every 512×512 window row by row, incomplete edge windows included (they are not
    written). No official image has a side that is a multiple of 512 (~9000×9500,
    ~4200×4700 px); here 1030×1100: 3 windows a row, 3 rows, complete ones are
    k = 0 (x 0, y 0), 1 (512, 0), 3 (0, 512), 4 (512, 512); k = 2, 5, 6, 7, 8 are dropped."""
    src = tmp_path / 'landcover.ai.v1'
    mask = np.zeros((1, 1030, 1100), np.uint8)
    mask[0, :512, :512] = 2                        # k 0: woodland
    mask[0, :512, 512:1024] = 1                    # k 1: building
    mask[0, 512:1024, :512] = 3                    # k 3: water
    mask[0, 512:1024, 512:1024] = 4                # k 4: road
    write_tif(src / 'images' / 'M-33-20-D-c-4-2.tif', np.full((3, 1030, 1100), 9, np.uint8))
    write_tif(src / 'masks' / 'M-33-20-D-c-4-2.tif', mask)
    (src / 'train.txt').write_text('M-33-20-D-c-4-2_0\nM-33-20-D-c-4-2_4\nM-33-20-D-c-4-2_2\n')
    (src / 'test.txt').write_text('M-33-20-D-c-4-2_1\nM-33-20-D-c-4-2_3\n')
    out = tmp_path / 'out'
    counts = HG['convert_landcover_ai'](src, out)
    assert (counts['train'], counts['test']) == (2, 2)        # _2 is an incomplete window
    expect = {('train', 0): 2, ('train', 4): 4, ('test', 1): 1, ('test', 3): 3}
    for (split, k), cls in expect.items():
        lab = read(out / 'ann_dir' / split / f'M-33-20-D-c-4-2_{k}.png')
        assert lab.shape == (512, 512) and (lab == cls).all(), (split, k)
    assert sorted(p.name for p in (out / 'ann_dir' / 'train').iterdir()) == \
        ['M-33-20-D-c-4-2_0.png', 'M-33-20-D-c-4-2_4.png']
    assert counts['pixels'] == {n: 512 * 512 for n in ('building', 'woodland', 'water', 'road')}


def test_globe230k_values_above_ten_are_ignored(tmp_path):
    src = tmp_path / 'globe'
    (src / 'images').mkdir(parents=True)
    (src / 'labels').mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(src / 'images' / 'a.jpg')
    Image.fromarray(np.array([[0, 5, 10, 12]] * 4, np.uint8)).save(src / 'labels' / 'a.png')
    (src / 'train.txt').write_text('a\nmissing\n')
    with pytest.raises(HG['C'].ConverterError, match=r'a.png: 4 of 16 pixels .*: 12 4 px'):
        HG['convert_globe230k'](src, tmp_path / 'out')
    counts = HG['convert_globe230k'](src, tmp_path / 'out', max_unknown=0.5)
    assert counts['train'] == 1 and counts['unknown'] == {12: 4}
    assert counts['skipped'] == [('missing', 'listed in train.txt, but no image or no '
                                             'labels/missing.png')]
    assert list(read(tmp_path / 'out' / 'ann_dir' / 'train' / 'a.png')[0]) == [0, 5, 10, 255]


def test_converter_refuses_to_write_into_the_download(tmp_path):
    (tmp_path / 'image_RGB').mkdir()
    with pytest.raises(HG['C'].ConverterError, match='source folder'):
        HG['convert_gid_large'](tmp_path, tmp_path / 'out')


@pytest.mark.parametrize('name', ['globe230k', 'gid_large', 'flair1', 'landcover_ai'])
def test_entry_points_name_their_source(name, capsys):
    mod = runpy.run_path(str(CONVERTERS / f'{name}.py'), run_name='entry_test')
    with pytest.raises(SystemExit):
        mod['main'](['--help'])
    assert 'Official source' in capsys.readouterr().out


def test_background_is_ignored_through_the_class_subset(tmp_path):
    """OpenEarthMap labels 0..8 → background 255, the others shifted to 0..7."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    import segearth_ov  # noqa: F401
    for d in ('images', 'labels'):
        (tmp_path / d).mkdir()
    Image.fromarray(np.zeros((3, 9, 3), np.uint8)).save(tmp_path / 'images' / 'x.tif')
    Image.fromarray(np.arange(9, dtype=np.uint8)[None].repeat(3, 0)).save(
        tmp_path / 'labels' / 'x.tif')
    cfg = Config.fromfile(str(ROOT / 'configs' / 'hg_rsovsseg' / 'hg_vitl14_openearthmap.py'))
    assert len(cfg.model.classes) == len(cfg.dataset_classes) == 8
    init_default_scope('mmseg')
    ds_cfg = dict(cfg.test_dataloader.dataset.to_dict(), data_root=str(tmp_path))
    ds = DATASETS.build(ds_cfg)
    label = ds[0]['data_samples'].gt_sem_seg.data[0, 0].tolist()
    assert label == [255, 0, 1, 2, 3, 4, 5, 6, 7]
    assert ds.metainfo['classes'] == cfg.dataset_classes


def test_fraction_dataset_is_a_seeded_share():
    from segearth_ov.datasets.fraction import FractionDataset
    base = list(range(50))
    a, b = FractionDataset(base, 0.1, seed=3), FractionDataset(base, 0.1, seed=3)
    assert len(a) == 5 and a.indices == b.indices and a.indices == sorted(a.indices)
    assert [a[i] for i in range(5)] == a.indices
    assert FractionDataset(base, 0.1, seed=4).indices != a.indices
    assert len(FractionDataset(base, 1.0)) == 50
    with pytest.raises(ValueError, match=r'\(0, 1\]'):
        FractionDataset(base, 0)
