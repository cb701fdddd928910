"""The predictor for own images and GeoTIFF scenes (tools/predict.py, segearth_ov.predict).

The real path (tiny fixture CLIP + SimFeatUp, slide inference 224/112) runs on one small
georeferenced scene cut into six tiles; the bookkeeping of large scenes (many tile rows,
resizing, memory) runs with `PixelwiseSegmentor` of tools/benchmark_scene.py, a per-pixel
linear classifier whose result cannot depend on tiling, so any difference is the
predictor's. torch runs on one thread here: on two busy cores, two threads mostly wait.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import rasterio
import torch
import torch.nn.functional as F
from affine import Affine

from conftest import JBU_CKPT, ROOT, TINY_CFG, TINY_PT, load_script, tiny_segmentor
from segearth_ov.mapping import predictor
from segearth_ov.mapping import raster_io
from segearth_ov.mapping.tiling import overlap_tiles, slide_starts, window_tiles
from segearth_ov.utils.images import ImageReadError
from segearth_ov.visualization import class_colours

CLASSES = ['background', 'building,roof', 'road', 'tree,forest']
UTM = 'EPSG:32632'


BENCH = load_script('tools/benchmark_scene.py')


pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:    # the per-test cache isolation, for the module
        mp.setenv('SEGEARTH_CACHE', str(tmp_path_factory.mktemp('cache')))
        mp.setenv('HF_HUB_OFFLINE', '1')
        return tiny_segmentor(CLASSES)


def write_tif(path, img, crs=UTM, transform=Affine(0.3, 0, 500000.0, 0, -0.3, 5600000.0),
              nodata=None):
    """H×W×B array → GeoTIFF (no CRS when crs is None)."""
    geo = dict(crs=crs, transform=transform) if crs else {}
    with rasterio.open(path, 'w', driver='GTiff', height=img.shape[0], width=img.shape[1],
                       count=img.shape[2], dtype=img.dtype.name, nodata=nodata, **geo) as dst:
        dst.write(np.moveaxis(img, 2, 0))
    return path


def patchwork(h, w, seed=0):
    """uint8 RGB fields (60×70 px patches of 12 colours) with noise; pixel values ≥ 1."""
    rng = np.random.default_rng(seed)
    colours = rng.integers(0, 255, (12, 3))
    yy, xx = np.mgrid[0:h, 0:w]
    img = colours[((yy // 60) * 7 + xx // 70) % 12] + rng.normal(0, 10, (h, w, 3))
    return np.clip(img, 1, 255).astype(np.uint8)


# ------------------------------------------------------------------------------ tiling
@pytest.mark.parametrize('n', [100, 224, 225, 336, 500, 1000, 2017])
@pytest.mark.parametrize('tile', [224, 336, 1024])
def test_window_tiles_partition_the_slide_windows(n, tile):
    """Each window of the whole image is in exactly one tile, and a tile's own slide
    windows (what the segmentor computes on it) are exactly its share."""
    axis = window_tiles(n, tile, 224, 112)
    windows = []
    for a, b in axis.spans:
        assert b - a <= max(tile, 1) and (b - a >= 224 or n < 224)
        windows += [a + s for s in slide_starts(b - a, 224, 112)]
    assert windows == slide_starts(n, 224, 112)
    coverage = np.zeros(n)
    for s in windows:
        coverage[s:s + 224] += 1
    np.testing.assert_array_equal(axis.total, coverage)


def test_overlap_tiles_cover_the_axis_with_the_overlap():
    axis = overlap_tiles(1000, 256, 32)
    assert axis.spans[0] == (0, 256) and axis.spans[1] == (224, 480)
    assert axis.spans[-1] == (744, 1000)
    assert axis.total.min() == 1 and axis.total.max() == 2


# ------------------------------------------------------------------------------ the real path
def test_tiled_geotiff_equals_untiled_and_keeps_georeference(tiny, tmp_path):
    """336 × 448 UTM scene, nodata strip, 6 tiles of one 224 window each (every border a
    tile border) vs the segmentor on the whole image: probabilities equal to 1e-5 (float
    rounding) everywhere — in bands along tile borders as in tile interiors —, labels equal."""
    img = patchwork(336, 448)
    img[:, :40] = 0
    transform = Affine(0.3, 0, 500000.0, 0, -0.3, 5600000.0)
    scene = write_tif(tmp_path / 'scene.tif', img, transform=transform, nodata=0)
    result = predictor.predict_file(scene, tiny, tmp_path / 'out', options=predictor.SceneOptions(tile=224),
                                    save_probs=True, probs_dtype='float32', progress=False)
    assert result['plan']['tiles'] == 6

    labels_tif = tmp_path / 'out' / 'scene_labels.tif'
    with rasterio.open(labels_tif) as out:
        assert out.crs == rasterio.crs.CRS.from_string(UTM) and out.transform == transform
        assert out.shape == (336, 448) and out.count == 1 and out.dtypes[0] == 'uint8'
        assert out.nodata == 255
        labels = out.read(1)
        cmap = out.colormap(1)
        assert json.loads(out.tags()['CLASS_NAMES']) == ['background', 'building', 'road', 'tree']
        assert out.tags(1)['CLASS_2'] == 'road'
        assert out.descriptions == ('class',)
    assert (labels[:, :40] == 255).all() and (labels[:, 40:] < 4).all()
    colours = class_colours(CLASSES)
    for i in range(4):
        assert cmap[i] == (*colours[i], 255)
    aux = ET.parse(f'{labels_tif}.aux.xml').getroot()
    assert [c.text for c in aux.iter('Category')] == ['background', 'building', 'road', 'tree']
    rows = [[f.text for f in r.iter('F')] for r in aux.iter('Row')]
    assert rows[1][:2] == ['1', 'building'] and rows[1][2:5] == [str(v) for v in colours[1]]
    qml = (tmp_path / 'out' / 'scene_labels.qml').read_text()
    assert 'label="tree"' in qml and 'type="paletted"' in qml

    with rasterio.open(tmp_path / 'out' / 'scene_probs.tif') as src:
        probs = src.read()
        assert src.descriptions == ('background', 'building', 'road', 'tree')
    # untiled: the segmentor's own slide inference over the whole image
    ref_logits = predictor.tile_logits(tiny, img)
    ref = tiny.class_probabilities(torch.from_numpy(ref_logits)).numpy()
    ref_labels = tiny.labels(torch.from_numpy(ref))[0].numpy()
    assert np.isnan(probs[:, :, :40]).all()
    diff = np.abs(probs - ref)[:, :, 40:].max(axis=0)
    border = np.zeros(diff.shape, bool)          # ±8 px around the tile borders
    for x in (112, 224, 336):
        border[:, x - 40 - 8:x - 40 + 8] = True
    border[112 - 8:112 + 8] = True
    assert diff[border].max() <= 1e-5 and diff[~border].max() <= 1e-5
    assert (labels[:, 40:] == ref_labels[:, 40:]).all()

    summary = json.loads((tmp_path / 'out' / 'scene_summary.json').read_text())
    counts = np.bincount(labels[labels != 255], minlength=4)
    assert [c['pixels'] for c in summary['classes']] == counts.tolist()
    assert summary['nodata_pixels'] == 336 * 40 and summary['crs'] == UTM
    assert summary['classes'][1]['area_m2'] == pytest.approx(counts[1] * 0.09)
    assert (tmp_path / 'out' / 'scene_overlay.png').stat().st_size > 0


def test_cli_with_fixture_model_on_plain_png(tmp_path, capsys):
    """A CRS-less PNG: png class map with palette, no georeference, a message saying so."""
    from PIL import Image

    from segearth_ov.mapping.cli import main
    Image.fromarray(patchwork(224, 240)).save(tmp_path / 'photo.png')
    rc = main([str(tmp_path / 'photo.png'), '--classes', 'water,river;building;tree;',
               '--pretrained', str(TINY_PT), '--model-cfg', str(TINY_CFG),
               '--upsampler-ckpt', str(JBU_CKPT['jbu_one']), '--device', 'cpu',
               '--out', str(tmp_path / 'out'), '--quiet'])
    assert rc == 0
    out = capsys.readouterr().out
    assert 'no CRS: outputs not georeferenced' in out and '1 tile(s)' in out
    png = Image.open(tmp_path / 'out' / 'photo_labels.png')
    assert png.mode == 'P' and png.size == (240, 224) and np.array(png).max() < 3
    summary = json.loads((tmp_path / 'out' / 'photo_summary.json').read_text())
    assert summary['crs'] is None and summary['classes'][0]['synonyms'] == ['water', 'river']
    assert summary['classes'][0]['area_m2'] is None
    assert (tmp_path / 'out' / 'photo_classes.txt').read_text().splitlines()[0] == '0\twater,river'


# ------------------------------------------------------------------------------ conversion
def test_16bit_stretch_is_scene_wide_and_ignores_nodata(tmp_path):
    """uint16 values 1000 + 10·k (k = 0..100) and 50 nodata pixels (0): the 2 % / 98 %
    points are 1020 / 1980 (with the nodata pixels the 2 % point would be 0), so 1480 ↦
    460·255/960 = 122.2 → 122 and 1500 ↦ 127.5 → 128; a tile holding part of the scene
    gets the scene's mapping."""
    from rasterio.windows import Window
    row = np.concatenate([1000 + 10 * np.arange(101), np.zeros(50)]).astype(np.uint16)
    img = np.repeat(row[None, :, None], 3, axis=2)                    # 1 × 151 × 3
    with rasterio.open(write_tif(tmp_path / 'u16.tif', img, nodata=0)) as src:
        reader = raster_io.SceneReader(src, [1, 2, 3])
        np.testing.assert_allclose(reader.stretch.value_range, [[1020] * 3, [1980] * 3])
        rgb, valid = reader.model_tile(Window(0, 0, 151, 1), (1, 151))
        part, _ = reader.model_tile(Window(40, 0, 21, 1), (1, 21))
    assert rgb[0, [0, 48, 50, 100], 0].tolist() == [0, 122, 128, 255]
    assert (rgb[0] == rgb[0, :, :1]).all()
    assert valid[0, :101].all() and not valid[0, 101:].any()
    np.testing.assert_array_equal(part[0], rgb[0, 40:61])


def test_db_sar_one_band_float(tmp_path):
    """1-band float32 SAR: in dB as it is, or linear power with --linear-sar (10·log10 first);
    both give the same 8-bit image, replicated to 3 bands; NaN is no data."""
    db = np.linspace(-25, 5, 101, dtype=np.float32)[None, :]     # 1 × 101, −25..5 dB
    db_img = np.concatenate([db, np.full((1, 101), np.nan, np.float32)])[..., None]
    linear = np.power(10.0, db_img / 10).astype(np.float32)
    out = {}
    for name, img, linear_sar in (('db', db_img, False), ('linear', linear, True)):
        with rasterio.open(write_tif(tmp_path / f'{name}.tif', img, nodata=np.nan)) as src:
            bands, _ = raster_io.select_bands(src, sar=True)
            reader = raster_io.SceneReader(src, bands, to_db=linear_sar)
            out[name], valid = reader.model_tile(rasterio.windows.Window(0, 0, 101, 2), (2, 101))
    # percentiles of −25..5 in 101 steps: 2 % → −24.4, 98 % → 4.4
    lo, hi = -25 + 0.02 * 30, -25 + 0.98 * 30
    expected = np.clip(np.rint((db[0].astype(np.float64) - lo) * 255 / (hi - lo)), 0, 255)
    for name in out:
        assert out[name].shape == (2, 101, 3)
        assert (out[name][0] == out[name][0, :, :1]).all()        # replicated band
        np.testing.assert_allclose(out[name][0, :, 0], expected, atol=1)
    assert valid[1].sum() == 0 and valid[0].all()
    assert np.abs(out['db'].astype(int) - out['linear']).max() <= 1


# ------------------------------------------------------------------------------ streaming
def test_many_tile_rows_and_resize_match_the_segmentor_path(tmp_path):
    """Pixelwise model: a 300 × 500 scene seen at long side 200 in 64-px tiles (3 × 4 tiles,
    overlaps averaged), streamed back to 300 × 500, equals: read the 120 × 200 model grid
    at once, logits, F.interpolate bilinear to 300 × 500, softmax and synonym max."""
    stub = BENCH.PixelwiseSegmentor(['water,river', 'field', 'town'])
    img = patchwork(300, 500, seed=1)
    path = write_tif(tmp_path / 's.tif', img)
    labels, probs = predictor.predict(path, model=stub, resize_long_side=200, tile=64, overlap=16,
                                      return_probs=True)
    with rasterio.open(path) as src:
        plan = predictor.plan_scene(src, predictor.SceneOptions(resize_long_side=200, tile=64, overlap=16),
                                    predictor.slide_settings(stub))
        grid = src.read(out_shape=(3, 120, 200),
                        resampling=rasterio.enums.Resampling.bilinear)
    assert (plan.model_height, plan.model_width, plan.n_tiles) == (120, 200, 12)
    logits = predictor.tile_logits(stub, np.moveaxis(grid, 0, -1))
    up = F.interpolate(torch.from_numpy(logits)[None], size=(300, 500), mode='bilinear',
                       align_corners=False)[0]
    ref = stub.class_probabilities(up).numpy()
    assert np.abs(probs - ref).max() < 1e-5
    assert (labels == ref.argmax(0)).mean() > 0.999


def test_api_arrays_gsd_and_bands(tmp_path):
    """segearth_ov.predict on arrays (H×W×B, any type), --gsd, band selection."""
    import segearth_ov
    stub = BENCH.PixelwiseSegmentor(['a', 'b'])
    rgb = patchwork(50, 60)
    labels = segearth_ov.predict(rgb, model=stub)
    ref = stub.class_probabilities(torch.from_numpy(predictor.tile_logits(stub, rgb))).argmax(0)
    assert labels.dtype == np.uint8 and (labels == ref.numpy()).all()
    # five bands, R,G,B = bands 5,3,1; switching the classes of the built model
    five = np.stack([rgb[..., 2], np.zeros_like(rgb[..., 0]), rgb[..., 1],
                     np.zeros_like(rgb[..., 0]), rgb[..., 0]], axis=2)
    labels5, probs5 = segearth_ov.predict(five, 'b;a', model=stub, bands=(5, 3, 1),
                                          return_probs=True)
    assert stub.class_names.names == ['b', 'a'] and probs5.shape == (2, 50, 60)
    # the Python API's advice is its keyword (the CLI's is --bands: tests/apis/test_advice.py)
    with pytest.raises(ImageReadError, match=r'has 5 bands.*bands=\(3, 2, 1\)'):
        segearth_ov.predict(five, model=stub)
    with pytest.raises(ImageReadError, match='band 6 does not exist; the file has 5'):
        segearth_ov.predict(five, model=stub, bands=(6, 3, 1))
    # gsd: 0.3 m pixels seen at 0.6 m → a 25 × 30 model grid
    path = write_tif(tmp_path / 'g.tif', rgb)
    with rasterio.open(path) as src:
        plan = predictor.plan_scene(src, predictor.SceneOptions(gsd=0.6), predictor.slide_settings(stub))
    assert (plan.model_height, plan.model_width) == (25, 30)
    assert predictor.predict(path, model=stub, gsd=0.6).shape == (50, 60)
    with pytest.raises(ValueError, match='--gsd needs .* projected CRS.*no CRS'):
        predictor.predict(write_tif(tmp_path / 'n.tif', rgb, crs=None), model=stub, gsd=1.0)


MEASURE_IN_A_FRESH_PROCESS = """
import json, sys
sys.path.insert(0, 'tests')
from segearth_ov.utils.runtime import use_huge_pages
use_huge_pages()
from conftest import load_script
from segearth_ov.mapping import raster_io
bench = load_script('tools/benchmark_scene.py')
raster_io.GDAL_CACHE_MB = 16
size, tile, overlap = map(int, sys.argv[1:])
stub = bench.PixelwiseSegmentor(['water', 'land', 'road', 'field'])
print(json.dumps(bench.measure_scene(stub, size, tile=tile, overlap=overlap)))
"""


def test_peak_memory_does_not_grow_with_the_scene_area():
    """tools/benchmark_scene.py's measurement, 4 classes, 256 px tiles: the 4000² scene
    (4× the area, +12M pixels) peaks less than 96 MB above the 2000² scene — its logits
    alone would take 16M × 4 × 4 B = 256 MB; what grows is one band of rows and the output
    chunks, i.e. with the width (about 40 MB in a fresh process) —, while the same 2000² scene in one tile
    peaks > 64 MB higher, so the measurement does see whole-scene arrays. GDAL's block cache
    (a fixed cap, 256 MB by default) is set to 16 MB so that cached file blocks do not stand
    in for the predictor's memory. Each scene is measured in a process of its own, so the
    heap left behind by earlier tests of the suite cannot stand in for it either."""
    import os
    import subprocess
    import sys

    from conftest import ROOT

    def measure(size, tile, overlap):
        out = subprocess.run([sys.executable, '-c', MEASURE_IN_A_FRESH_PROCESS, str(size),
                              str(tile), str(overlap)], cwd=ROOT, capture_output=True, text=True,
                             timeout=600, env={**os.environ, 'OMP_NUM_THREADS': '1'})
        assert out.returncode == 0, out.stderr[-2000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    small, large, whole = measure(2000, 256, 32), measure(4000, 256, 32), measure(2000, 2048, 0)
    assert small['tiles'] == 81 and large['tiles'] == 324 and whole['tiles'] == 1
    assert large['peak_rss_mb'] - small['peak_rss_mb'] < 96, (small, large)
    assert whole['peak_rss_mb'] - small['peak_rss_mb'] > 64, (small, whole)


# ------------------------------------------------------------------------------ errors
def test_clear_errors(tmp_path, capsys):
    from segearth_ov.mapping.cli import main
    with pytest.raises(ValueError, match='class list is empty'):
        predictor.parse_classes(' ; ')
    with pytest.raises(ValueError, match='line 2: blank line'):
        predictor.parse_classes('a;;b')
    assert predictor.parse_classes('building,roof;road;').classes == (('building', 'roof'), ('road',))
    bad = tmp_path / 'broken.tif'
    bad.write_text('not an image')
    with pytest.raises(ImageReadError, match='broken.tif cannot be read as an image'):
        predictor.predict(bad, model=BENCH.PixelwiseSegmentor(['a']))
    assert main([str(bad), '--classes', '', '--dry-run']) == 2
    assert 'class list is empty' in capsys.readouterr().err
    two = write_tif(tmp_path / 'two.tif', np.zeros((8, 8, 2), np.uint16))
    assert main([str(two), str(bad), '--classes', 'a;b', '--dry-run']) == 1
    err = capsys.readouterr().err
    assert 'two.tif has 2 bands' in err and 'cannot be read as an image' in err
    (tmp_path / 'b').mkdir()
    two_b = write_tif(tmp_path / 'b' / 'two.tif', np.zeros((8, 8, 3), np.uint8))
    assert main([str(two), str(two_b), '--classes', 'a;b', '--dry-run']) == 2
    assert 'have the same name, so their outputs would overwrite' in capsys.readouterr().err


def test_dry_run_prints_plan_and_memory(tmp_path, capsys):
    from segearth_ov.mapping.cli import main
    scene = BENCH.write_scene(tmp_path / 'big.tif', 3000, 2000)
    rc = main([str(scene), '--classes', 'building,roof;road;water', '--dry-run',
               '--out', str(tmp_path / 'out')])
    out = capsys.readouterr().out
    assert rc == 0 and not (tmp_path / 'out').exists()
    assert 'EPSG:32632, pixel 0.5 × 0.5 m' in out
    # sizes as GIS tools (gdalinfo) give them: width × height
    assert 'scene 2000 × 3000 px (width × height)' in out
    # 3000 rows: 26 windows of 224/112 → 9 tile rows of 3 windows; 2000 cols: 17 → 6
    assert 'tiles 6 × 9 = 54 of up to 448 px, overlap 112 px' in out
    assert 'estimated peak memory ~' in out and 'blend band' in out


def test_dry_run_plans_with_the_configs_slide(tmp_path, capsys):
    """configs/cfg_hrsid.py sets slide_crop=0 (whole-image inference, the SAR configs): the
    plan follows it, not the released 224/112 windows; a flag still overrides the config."""
    from segearth_ov.mapping.cli import main
    scene = BENCH.write_scene(tmp_path / 'big.tif', 1000, 1000)
    common = [str(scene), '--classes', 'ship;sea', '--dry-run',
              '--config', str(ROOT / 'configs' / 'cfg_hrsid.py')]
    assert main(common) == 0
    assert '(whole-image inference per tile, overlaps averaged)' in capsys.readouterr().out
    assert main(common + ['--slide-crop', '224']) == 0
    assert 'slide windows (224/112)' in capsys.readouterr().out


def test_window_batch_below_one_is_refused_with_the_option_named(tmp_path, capsys):
    """--window-batch 0 used to reach the segmentor and crash in an empty torch.cat."""
    from segearth_ov.mapping.cli import main
    scene = write_tif(tmp_path / 'a.tif', np.zeros((8, 8, 3), np.uint8))
    for value in ('0', '-3', 'x'):
        with pytest.raises(SystemExit) as exit_:
            main([str(scene), '--classes', 'a;b', '--window-batch', value, '--dry-run'])
        assert exit_.value.code == 2
        assert f"--window-batch {value!r}: give a whole number of at least 1" in \
            capsys.readouterr().err
    with pytest.raises(ValueError, match=r'window_batch=0: give at least 1 window'):
        tiny_segmentor(['a', 'b'], window_batch=0)


def test_one_failing_input_does_not_end_the_batch(tiny, tmp_path, capsys, monkeypatch):
    """An unexpected error in one input (as the AttributeError of trained models was) is
    reported with the input's name; the other inputs are segmented; the exit status is 1."""
    from segearth_ov.mapping.cli import main
    first = write_tif(tmp_path / 'first.tif', patchwork(40, 48, seed=1))
    second = write_tif(tmp_path / 'second.tif', patchwork(40, 48, seed=2))
    real = predictor.predict_file

    def predict_file(path, *args, **kw):
        if path.name == 'first.tif':
            raise AttributeError("'Model' object has no attribute 'prob_thd'")
        return real(path, *args, **kw)

    monkeypatch.setattr(predictor, 'build_model', lambda classes, **settings: tiny)
    monkeypatch.setattr(predictor, 'predict_file', predict_file)
    rc = main([str(first), str(second), '--classes', ';'.join(CLASSES),
               '--out', str(tmp_path / 'out'), '--quiet'])
    err = capsys.readouterr().err
    assert rc == 1
    assert f"error: {first}: AttributeError: 'Model' object has no attribute" in err
    assert '1 of 2 input(s) failed' in err
    assert (tmp_path / 'out' / 'second_labels.tif').is_file()
    assert (tmp_path / 'out' / 'second_summary.json').is_file()
