"""The command-line tools as a new user meets them (issue 28, items 9–17): a class file with a
typo, transparent pixels, a photo taken upright, `--out result.tif`, messages, pictures."""
from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import rasterio
from affine import Affine
from PIL import Image

from conftest import JBU_CKPT, ROOT, TINY_CFG, TINY_PT, load_script

FIXTURE = ['--pretrained', str(TINY_PT), '--model-cfg', str(TINY_CFG), '--upsampler-ckpt',
           str(JBU_CKPT['jbu_one']), '--device', 'cpu', '--quiet']

pytestmark = pytest.mark.usefixtures('one_thread')


def scene(path, h=40, w=56, count=3, alpha=None):
    """A uint8 UTM GeoTIFF of noise; `alpha`: an H×W alpha band added as band 4."""
    rng = np.random.default_rng(0)
    bands = rng.integers(1, 255, (count, h, w), dtype=np.uint8)
    extra = {} if alpha is None else dict(photometric='RGB', alpha='YES')
    with rasterio.open(path, 'w', driver='GTiff', height=h, width=w,
                       count=count + (alpha is not None), dtype='uint8', crs='EPSG:32632',
                       transform=Affine(0.5, 0, 5e5, 0, -0.5, 5.6e6), **extra) as dst:
        dst.write(bands, list(range(1, count + 1)))
        if alpha is not None:
            dst.write(alpha, count + 1)
    return path


def predict(argv):
    from segearth_ov.mapping.cli import main
    return main([str(a) for a in argv])


# ------------------------------------------------------------------ 9: class files with a typo
def test_classes_file_that_does_not_exist_is_an_error(tmp_path, capsys):
    """Was: exit 0 with one class named by the path."""
    missing = tmp_path / 'typo' / 'clases.txt'
    rc = predict([scene(tmp_path / 's.tif'), '--classes-file', missing, '--dry-run'])
    captured = capsys.readouterr()
    assert rc == 2 and 'class' not in captured.out
    assert captured.err.strip() == (
        f'error: --classes-file {missing}: no such file; give a class-name file (one class per '
        'line, synonyms separated by commas, e.g. configs/cls_openearthmap.txt) or --classes')


@pytest.mark.parametrize('value', ['clases.txt', 'typo/classes'])
def test_classes_that_look_like_a_missing_file_get_a_warning(tmp_path, capsys, caplog, value):
    with caplog.at_level(logging.WARNING, logger='segearth_ov'):
        assert predict([scene(tmp_path / 's.tif'), '--classes', value, '--dry-run']) == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f'classes {value!r}: no such file, so it is taken as one class name; '
                        'for a class-name file check the path (or give --classes-file)']
    assert capsys.readouterr().out.startswith(f'1 class (1 name): {value}\n')   # was "1 classes"
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger='segearth_ov'):     # real names: no warning
        assert predict([scene(tmp_path / 's.tif'), '--classes', 'road', '--dry-run']) == 0
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


def test_demo_warns_about_a_class_file_typo(tmp_path, caplog, capsys):
    """demo.py passes --classes to the predictor: the same warning, before the model."""
    demo = load_script('demo.py')
    with caplog.at_level(logging.WARNING, logger='segearth_ov'):
        rc = demo.main(['--image', str(scene(tmp_path / 's.tif')), '--classes', 'clases.txt',
                        '--pretrained', str(tmp_path / 'no_such.pt'), '--model-cfg', str(TINY_CFG),
                        '--upsampler-ckpt', str(JBU_CKPT['jbu_one']), '--device', 'cpu',
                        '--out', str(tmp_path / 'out')])
    assert rc == 2
    assert any("classes 'clases.txt': no such file" in r.getMessage() for r in caplog.records)
    assert 'no_such.pt' in capsys.readouterr().err


# ------------------------------------------------------------------ 10: alpha is a mask
def rgba_png(path, h=40, w=56):
    rng = np.random.default_rng(1)
    rgba = rng.integers(1, 255, (h, w, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    rgba[:, :20, 3] = 0                        # the left 20 columns transparent
    Image.fromarray(rgba, 'RGBA').save(path)
    return path


def test_alpha_of_an_rgba_png_is_a_mask(tmp_path, capsys):
    """Was: str(ColorInterp.alpha) is '6' on Python 3.11, so the test for 'alpha' never held
    and transparent pixels were classified (with a warning about a NIR band)."""
    png = rgba_png(tmp_path / 'photo.png')
    assert predict([png, '--classes', 'a;b', '--dry-run']) == 0
    assert 'using [1, 2, 3] (alpha band 4 as mask)' in capsys.readouterr().out
    out = tmp_path / 'out'
    assert predict([png, '--classes', 'a;b', *FIXTURE, '--out', out]) == 0
    summary = json.loads((out / 'photo_summary.json').read_text())
    assert summary['valid_pixels'] == 40 * 36 and summary['nodata_pixels'] == 40 * 20
    labels = np.array(Image.open(out / 'photo_labels.png'))
    assert (labels[:, :20] == 255).all() and (labels[:, 20:] < 2).all()


def test_alpha_band_of_a_geotiff_is_a_mask(tmp_path, capsys):
    alpha = np.full((40, 56), 255, np.uint8)
    alpha[30:] = 0
    tif = scene(tmp_path / 'rgba.tif', alpha=alpha)
    assert predict([tif, '--classes', 'a;b', '--dry-run']) == 0
    assert 'using [1, 2, 3] (alpha band 4 as mask)' in capsys.readouterr().out
    out = tmp_path / 'out'
    assert predict([tif, '--classes', 'a;b', *FIXTURE, '--out', out]) == 0
    with rasterio.open(out / 'rgba_labels.tif') as src:
        labels = src.read(1)
    assert (labels[30:] == 255).all() and (labels[:30] < 2).all()


# ------------------------------------------------------------------ 11: EXIF orientation
def upright_and_turned(h=40, w=64):
    """An upright image and the pixels a camera stores for it with EXIF Orientation 6
    (the viewer turns them 90° clockwise)."""
    rng = np.random.default_rng(2)
    upright = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    upright[:10, :16] = (255, 0, 0)            # a red corner, top left when upright
    stored = np.rot90(upright, 1)              # 90° counter-clockwise: W×H
    return upright, np.ascontiguousarray(stored)


def save_with_orientation(path, pixels, orientation, **kw):
    im = Image.fromarray(pixels)
    exif = im.getexif()
    exif[0x0112] = orientation
    im.save(path, exif=exif.tobytes(), **kw)
    return path


@pytest.mark.parametrize('suffix', ['.png', '.tif'])
def test_exif_orientation_is_applied_as_mmcv_and_viewers_do(tmp_path, suffix):
    """Was: read sideways by demo/predict (GDAL ignores EXIF) and by `read_image` (the eval
    re-read, inference_image), turned by mmcv in the eval loader: two maps of one file."""
    import mmcv
    from segearth_ov.utils.images import read_image
    upright, stored = upright_and_turned()
    turned = save_with_orientation(tmp_path / f'turned{suffix}', stored, 6)
    Image.fromarray(upright).save(tmp_path / 'upright.png')
    # the eval loader's read (mmcv, BGR) and ours
    loader = mmcv.imfrombytes(turned.read_bytes(), flag='color', backend='cv2')[..., ::-1]
    assert (loader == upright).all() and (read_image(turned) == upright).all()
    out = tmp_path / 'out'
    assert predict([turned, tmp_path / 'upright.png', '--classes', 'a;b;c', *FIXTURE,
                    '--out', out]) == 0
    got = np.array(Image.open(out / 'turned_labels.png'))
    want = np.array(Image.open(out / 'upright_labels.png'))
    assert got.shape == (40, 64) and (got == want).all()


def test_exif_orientation_of_a_jpeg_photo(tmp_path):
    _, stored = upright_and_turned()
    jpg = save_with_orientation(tmp_path / 'photo.jpg', stored, 6, quality=95)
    out = tmp_path / 'out'
    assert predict([jpg, '--classes', 'a;b', *FIXTURE, '--out', out]) == 0
    assert np.array(Image.open(out / 'photo_labels.png')).shape == (40, 64)   # was 64 × 40


# ------------------------------------------------------------------ 15, 16: outputs, messages
@pytest.mark.parametrize('name', ['result.tif', 'map.PNG'])
def test_out_named_like_a_raster_is_refused(tmp_path, capsys, name):
    """Was: a folder named result.tif, silently."""
    out = tmp_path / name
    rc = predict([scene(tmp_path / 's.tif'), '--classes', 'a;b', '--out', out])
    assert rc == 2 and not out.exists()
    assert capsys.readouterr().err.strip() == (
        f'error: --out {out}: a file name, but --out is the output folder (each input writes '
        f'<out>/<stem>_labels.tif, …); give a folder, e.g. --out {out.with_suffix("")}')


def test_error_names_the_input_once(tmp_path, capsys):
    """Was: error: X: X: band 4 does not exist …"""
    path = scene(tmp_path / 's.tif')
    assert predict([path, '--classes', 'a;b', '--bands', '4,2,1', '--dry-run']) == 1
    assert capsys.readouterr().err.strip() == (
        f'error: {path}: band 4 does not exist; the file has 3 band(s), numbered 1..3')


def test_dry_run_weights_follow_a_custom_model_cfg(tmp_path, capsys):
    """Was 614 MB (ViT-B's weights) for the tiny model's JSON too."""
    import open_clip
    from segearth_ov.models.backbones.builder import build_clip
    clip, _, _ = build_clip('CLIP', 'ViT-B/16', str(TINY_PT), str(TINY_CFG))
    exact = 4 * sum(p.numel() for p in clip.parameters())
    assert predict([scene(tmp_path / 's.tif'), '--classes', 'a;b', '--model-cfg', TINY_CFG,
                    '--dry-run']) == 0
    out = capsys.readouterr().out
    assert f'model weights {exact / 2 ** 20:.0f} MB' in out and exact < 30 * 2 ** 20
    assert predict([scene(tmp_path / 's.tif'), '--classes', 'a;b', '--dry-run']) == 0
    assert 'model weights 614 MB' in capsys.readouterr().out      # the preset: measured figure
    assert open_clip                                              # (imported for build_clip)


def test_demo_help_explains_every_option(capsys):
    demo = load_script('demo.py')
    with pytest.raises(SystemExit):
        demo.parse_args(['--help'])
    options = capsys.readouterr().out.split('\noptions:\n', 1)[1]
    for flag, words in (('--out', 'output folder'), ('--device', 'cpu, cuda'),
                        ('--prob-thd', 'probability'), ('--vit-type', 'ViT-B/32')):
        block = options.split(f'\n  {flag} ', 1)[1].split('\n  --', 1)[0]
        assert words in ' '.join(block.split()), (flag, block)


def test_offline_both_missing_weight_files_are_named_together(tmp_path, monkeypatch, capsys):
    """Was: CLIP's file first; the SimFeatUp file only on the next try."""
    monkeypatch.setenv('SEGEARTH_OFFLINE', '1')
    monkeypatch.setenv('SEGEARTH_CHECKPOINTS', str(tmp_path / 'ckpt'))
    monkeypatch.setenv('SEGEARTH_CACHE', str(tmp_path / 'cache'))
    monkeypatch.setenv('SEGEARTH_OPENAI_CLIP_CACHE', str(tmp_path / 'clip'))
    monkeypatch.setenv('HF_HOME', str(tmp_path / 'hf'))
    rc = predict([scene(tmp_path / 's.tif'), '--classes', 'a;b', '--device', 'cpu', '--quiet',
                  '--out', tmp_path / 'out'])
    lines = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(lines) == 1
    assert lines[0].startswith('error: 2 weight files are missing. 1) weights for CLIP ViT-B/16')
    assert 'ViT-B-16.pt' in lines[0] and '2) SimFeatUp checkpoint not found' in lines[0]
    assert 'xclip_jbu_one_million_aid.ckpt' in lines[0]


# ------------------------------------------------------------------ 17: pictures
def test_roads_and_paved_surfaces_stand_out_on_grey():
    """Was grey (128, 128, 128): invisible over asphalt and grey roofs in a 50 % overlay."""
    from segearth_ov.visualization import class_colours
    names = ['road', 'pavement', 'impervious surface', 'building', 'tree', 'water', 'cropland']
    colours = class_colours(names).astype(int)
    for name, c in zip(names[:3], colours[:3]):
        assert c.max() - c.min() >= 150, (name, c)                    # saturated, not grey
        assert np.abs(c - 128).sum() >= 150, (name, c)                # far from asphalt grey
    road, pavement, impervious = colours[:3]
    assert np.abs(road - pavement).sum() >= 150                       # told apart on one map
    assert (impervious == pavement).all() or np.abs(impervious - road).sum() >= 150
    for other in colours[3:]:
        assert np.abs(road - other).sum() >= 150 and np.abs(pavement - other).sum() >= 150
    both = class_colours(['pavement', 'impervious surface'])         # one map: two colours
    assert np.abs(both[0].astype(int) - both[1]).sum() >= 150


def test_overlay_legend_reads_row_by_row_with_tiny_shares(tmp_path, monkeypatch):
    """The legend of the overlay PNG: classes in order left to right, then the next row (was
    column by column), and a class of a few pixels as '<0.1%' (was '(0.0%)')."""
    import matplotlib.figure
    from segearth_ov import visualization
    seen = {}
    real = matplotlib.figure.Figure.savefig

    def keep(fig, *a, **kw):
        real(fig, *a, **kw)
        renderer = fig.canvas.get_renderer()
        texts = fig.legends[0].get_texts()
        seen['legend'] = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    monkeypatch.setattr(matplotlib.figure.Figure, 'savefig', keep)
    names = [f'class{i}' for i in range(7)]
    pred = (np.arange(10000) % 6).reshape(100, 100)
    pred[0, 0] = 6                                 # class 6: 1 px of 10,000
    image = np.full((100, 100, 3), 128, np.uint8)
    visualization.save_overlay(tmp_path / 'o.png', image, pred, names)
    assert Image.open(tmp_path / 'o.png').size[0] > 500
    entries = seen['legend']
    assert 'class6 (<0.1%)' in [t for t, _ in entries] and 'class1 (16.7%)' in [t for t, _ in entries]
    # reading order: top row left to right, then the next row
    order = sorted(entries, key=lambda e: (-round(e[1].y0), e[1].x0))
    assert [t.split()[0] for t, _ in order] == names
    rows = sorted({round(b.y0) for _, b in entries}, reverse=True)
    assert len(rows) == 2 and sum(round(b.y0) == rows[0] for _, b in entries) == 5
