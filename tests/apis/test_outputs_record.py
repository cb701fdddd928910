"""What every output says about how it was made (the weight files and their SHA-256), the
colours classes get by name, and the one (labels, probs) convention of the Python API."""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import JBU_CKPT, OEM_TILE, ROOT, TINY_PT, tiny_segmentor
from segearth_ov.utils import provenance
from segearth_ov.visualization import FALLBACK, class_colours

CLASSES = ['background', 'building,roof', 'road', 'tree,forest', 'water,river']


def sha256(path) -> str:
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv('SEGEARTH_CACHE', str(tmp_path_factory.mktemp('cache')))
        mp.setenv('HF_HUB_OFFLINE', '1')
        return tiny_segmentor(CLASSES)


# ------------------------------------------------------------------ weights and hashes
def test_file_hash_is_cached_by_path_size_and_mtime(tmp_path, monkeypatch):
    """The hash is computed once per (path, size, mtime), also across processes (the cache
    file): a changed file with the same size and time keeps the cached hash — proof that it
    was not read again —, a new modification time gives the new hash."""
    monkeypatch.setenv('SEGEARTH_CACHE', str(tmp_path / 'cache'))
    f = tmp_path / 'w.pt'
    f.write_bytes(b'a' * 1000)
    stamp = os.stat(f).st_mtime_ns
    assert provenance.file_sha256(f) == hashlib.sha256(b'a' * 1000).hexdigest()
    provenance._memory.clear()                      # a new process: only the cache file
    f.write_bytes(b'b' * 1000)
    os.utime(f, ns=(stamp, stamp))
    assert provenance.file_sha256(f) == hashlib.sha256(b'a' * 1000).hexdigest()
    assert (tmp_path / 'cache' / 'file_hashes.json').is_file()
    os.utime(f, ns=(stamp + 10 ** 9, stamp + 10 ** 9))
    assert provenance.file_sha256(f) == hashlib.sha256(b'b' * 1000).hexdigest()


def test_segmentor_exposes_its_weight_files(tiny):
    assert tiny.weights_path == str(TINY_PT)
    assert tiny.upsampler_path == str(JBU_CKPT['jbu_one'])
    rec = provenance.model_weights(tiny)
    assert rec == dict(weights=dict(file=os.path.abspath(TINY_PT), sha256=sha256(TINY_PT)),
                       upsampler=dict(file=os.path.abspath(JBU_CKPT['jbu_one']),
                                      sha256=sha256(JBU_CKPT['jbu_one'])), precision='fp32')
    random = tiny_segmentor(['a', 'b'], pretrained='random', feature_up=False, precision='bf16')
    assert provenance.model_weights(random) == dict(
        weights=dict(file='random', sha256=None), upsampler=None, precision='bf16')


def test_summary_and_overlay_title_name_the_weights(tiny, tmp_path, monkeypatch):
    """predict_file's summary JSON records both files with their full SHA-256; the overlay's
    title names them short (file name @ first 8 hex digits)."""
    from segearth_ov import visualization
    from segearth_ov.mapping import predictor
    titles = []
    real = visualization.save_overlay
    monkeypatch.setattr(visualization, 'save_overlay',
                        lambda *a, **k: (titles.append(k['title']), real(*a, **k)))
    rgb = np.random.default_rng(0).integers(0, 255, (64, 80, 3), dtype=np.uint8)
    import cv2
    cv2.imwrite(str(tmp_path / 'img.png'), rgb)
    result = predictor.predict_file(tmp_path / 'img.png', tiny, tmp_path / 'out', progress=False)
    on_disk = json.loads((tmp_path / 'out' / 'img_summary.json').read_text())
    assert on_disk['model']['weights'] == dict(file=os.path.abspath(TINY_PT), sha256=sha256(TINY_PT))
    assert on_disk['model']['upsampler']['sha256'] == sha256(JBU_CKPT['jbu_one'])
    assert result['model'] == on_disk['model']
    assert titles == [f'CLIP ViT-B/16 · SegEarth · weights tiny-clip-vit-b16.pt@'
                      f'{sha256(TINY_PT)[:8]} · SimFeatUp tiny_jbu_one.ckpt@'
                      f'{sha256(JBU_CKPT["jbu_one"])[:8]}']


# ------------------------------------------------------------------ one (labels, probs)
def test_inference_image_returns_labels_then_probs_as_predict_does(tiny):
    import segearth_ov
    from segearth_ov.apis import inference_image
    rgb = np.asarray(__import__('PIL.Image', fromlist=['Image']).open(OEM_TILE))[:96, :128]
    labels, probs = inference_image(tiny, rgb, size=0)
    p_labels, p_probs = segearth_ov.predict(rgb, model=tiny, return_probs=True)
    assert labels.dtype == p_labels.dtype == np.uint8
    assert labels.shape == (96, 128) and probs.shape == (len(CLASSES), 96, 128)
    assert probs.dtype == p_probs.dtype == np.float32
    np.testing.assert_allclose(probs, p_probs, atol=1e-5)
    assert (labels == p_labels).mean() > 0.999


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r'```python\n(.*?)```', markdown, re.S)


def test_readme_python_examples_run_as_written(tmp_path):
    """Both Python examples of the README that segment (inference_image, segearth_ov.predict),
    run from the repository root as a reader would paste them."""
    blocks = [b for b in _python_blocks((ROOT / 'README.md').read_text())
              if 'inference_image(' in b or 'segearth_ov.predict(' in b]
    assert len(blocks) == 2
    code = '\n'.join(blocks) + (
        '\nassert labels.dtype.name == "uint8" and probs.dtype.name == "float32"'
        '\nassert labels.ndim == 2 and probs.shape[1:] == labels.shape\nprint("ran")\n')
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1',
               SEGEARTH_CACHE=str(tmp_path / 'cache'), HF_HUB_OFFLINE='1')
    out = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0 and out.stdout.strip().endswith('ran'), out.stderr[-2000:]


# ------------------------------------------------------------------ colours by class name
def test_land_cover_names_get_the_colours_a_map_reader_expects():
    c = dict(zip(['water', 'river', 'tree', 'grass', 'building', 'road', 'bareland',
                  'cropland', 'background'],
                 class_colours(['water', 'river', 'tree', 'grass', 'building', 'road',
                                'bareland', 'cropland', 'background']).tolist()))
    r, g, b = np.array(c['water'])
    assert b > 200 and b > r + 100 and b > g + 50                     # blue
    for name in ('tree', 'grass'):
        r, g, b = c[name]
        assert g > r + 40 and g > b + 40                                # green
    assert c['tree'] != c['grass']
    r, g, b = c['building']
    assert r > 200 and g < 60 and b < 60                                # red
    r, g, b = c['road']
    assert r > 200 and 80 <= g <= 160 and b < 60                        # orange (grey vanished
    #                                                                     on asphalt, issue 28)
    r, g, b = c['bareland']
    assert r > g > b and r > 180                                        # tan
    r, g, b = c['cropland']
    assert r > 200 and g > 180 and b < 80                               # yellow
    assert c['background'] == [0, 0, 0]
    assert c['river'] != c['water']                                     # one map: two blues


def test_colour_follows_the_name_not_the_index_and_any_synonym_counts():
    a = class_colours(['background', 'building,roof', 'road', 'water,river'])
    b = class_colours(['water,river', 'road', 'background', 'building,roof'])
    assert (a[3] == b[0]).all() and (a[1] == b[3]).all() and (a[2] == b[1]).all()
    # a synonym that is a land-cover name decides, also when it is not the first one
    lake = class_colours(['reservoir basin,lake'])[0]
    assert lake[2] > 200
    assert (class_colours(['dense tree cover'])[0] == class_colours(['forest'])[0]).all()
    # a name that is no land cover is not coloured as one by a word inside it
    field = class_colours(['soccer ball field'])[0]
    assert tuple(field) in {tuple(int(v) for v in c) for c in FALLBACK}


def test_other_names_get_a_fixed_colour_and_no_two_classes_share_one():
    names = ['ship', 'plane', 'harbor', 'small vehicle', 'large vehicle', 'helicopter']
    first = class_colours(names)
    again = class_colours(list(reversed(names)))[::-1]
    assert (first == again).all()                             # stable across runs and orders
    assert (class_colours(['ship'])[0] == first[0]).all()     # alone or with others
    isaid = (ROOT / 'configs' / 'cls_iSAID.txt').read_text().split('\n')
    colours = {tuple(c) for c in class_colours([ln for ln in isaid if ln])}
    assert len(colours) == len([ln for ln in isaid if ln])    # 16 classes, 16 colours
    many = class_colours([f'class {i}' for i in range(30)])   # more than the fallback palette
    assert len({tuple(c) for c in many[:len(FALLBACK)]}) == len(FALLBACK)


def test_geotiff_colour_table_and_web_legend_use_the_class_colours(tiny, tmp_path):
    import rasterio
    from affine import Affine

    from segearth_ov.mapping import predictor
    from segearth_ov.webui.jobs import Job
    img = np.random.default_rng(1).integers(1, 255, (64, 80, 3), dtype=np.uint8)
    path = tmp_path / 'scene.tif'
    with rasterio.open(path, 'w', driver='GTiff', height=64, width=80, count=3, dtype='uint8',
                       crs='EPSG:32632', transform=Affine(0.5, 0, 5e5, 0, -0.5, 5.6e6)) as dst:
        dst.write(np.moveaxis(img, 2, 0))
    result = predictor.predict_file(path, tiny, tmp_path / 'out', overlay=False, progress=False)
    expected = class_colours(CLASSES)
    with rasterio.open(tmp_path / 'out' / 'scene_labels.tif') as out:
        cmap = out.colormap(1)
    for i in range(len(CLASSES)):
        assert cmap[i] == (*expected[i], 255)
    job = Job.__new__(Job)
    job.result = result
    assert job.colours() == expected.tolist()


def test_scene_sizes_are_printed_width_by_height(capsys):
    from segearth_ov.mapping.cli import _report
    _report(dict(input='s.tif', height=300, width=500, plan=dict(tiles=2), seconds=1.0,
                 crs='EPSG:32632', classes=[], nodata_pixels=0, outputs=[]))
    assert 's.tif: 500 × 300 px' in capsys.readouterr().out
