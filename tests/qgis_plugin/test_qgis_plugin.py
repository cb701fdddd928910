"""The QGIS plugin in a real QGIS (Debian's qgis 3.22, python3-qgis, qgis-providers; installed by
tools/install.sh, skipped without them), headless: its provider loads, its algorithms run
through processing.run / runAndLoadResults and through qgis_process on the demo tile with the
tiny models, and QGIS sees the outputs right (CRS, class names and colours, polygons whose
count and areas are those of the class raster); Cancel stops the predictor; a failing run
shows the predictor's `error:` line.

QGIS's Python (/usr/bin/python3, no torch) runs tests/qgis_plugin/in_qgis.py; the plugin runs
the Python environment of these tests (found from $VIRTUAL_ENV, as when QGIS is started from
the activated environment) for the prediction.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio

from conftest import JBU_CKPT, OEM_TILE as DEMO_TILE, ROOT, TINY_CFG, TINY_PT, load_script

QGIS_PYTHON = '/usr/bin/python3'
# Debian's /usr/bin/qgis_process wrapper passes --noversioncheck, which qgis_process.bin
# 3.22 refuses ("Command --noversioncheck not known!"): the binary is run directly.
QGIS_PROCESS = shutil.which('qgis_process.bin') or shutil.which('qgis_process')


def _qgis_python_ok() -> bool:
    if not os.path.exists(QGIS_PYTHON):
        return False
    return subprocess.run([QGIS_PYTHON, '-c', 'import qgis.core, processing'],
                          capture_output=True, env=qgis_env(), timeout=60,
                          cwd='/').returncode == 0


def qgis_env(home: Path | None = None) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('XDG_', 'QGIS_', 'PYTHON', 'VIRTUAL_ENV', 'CONDA'))}
    env.update(QT_QPA_PLATFORM='offscreen', PYTHONPATH='/usr/share/qgis/python/plugins',
               OMP_NUM_THREADS='1')
    if home is not None:       # a QGIS profile of its own (plugins, settings)
        env.update(HOME=str(home), XDG_RUNTIME_DIR=str(home / 'run'))
        (home / 'run').mkdir(mode=0o700, parents=True, exist_ok=True)
    return env


def predictor_env(env: dict) -> dict:
    """As if QGIS were started from the activated environment of these tests (sys.prefix);
    PYTHONPATH makes its Python import this checkout's segearth_ov (QGIS's own imports are
    unaffected)."""
    return dict(env, VIRTUAL_ENV=sys.prefix,
                PYTHONPATH=f'{ROOT}:/usr/share/qgis/python/plugins')


pytestmark = pytest.mark.skipif(
    not _qgis_python_ok(),
    reason="Debian's QGIS is not installed (apt-get install qgis python3-qgis qgis-providers; "
           'tools/install.sh installs them)')

CLASSES = 'background;building,roof,house;road;tree,forest;water,river'
NAMES = ['background', 'building', 'road', 'tree', 'water']
TINY = dict(PRETRAINED=str(TINY_PT), MODEL_CFG=str(TINY_CFG),
            UPSAMPLER_CKPT=str(JBU_CKPT['jbu_one']), DEVICE=1)      # cpu
GSD = '--gsd 1.25 --tile 224 --threads 1'      # 400 × 400 model pixels: 3 × 3 tiles


@pytest.fixture
def tile(tmp_path):
    """The demo tile, copied: QGIS writes statistics into an .aux.xml beside a raster it reads."""
    folder = tmp_path / 'input'
    folder.mkdir()
    return Path(shutil.copy(DEMO_TILE, folder))


def run_in_qgis(tmp_path, runs) -> dict:
    spec = tmp_path / 'spec.json'
    spec.write_text(json.dumps(dict(plugin_parent=str(ROOT / 'qgis'), runs=runs)))
    report = tmp_path / 'report.json'
    proc = subprocess.run([QGIS_PYTHON, str(Path(__file__).with_name('in_qgis.py')), str(spec),
                           str(report)], capture_output=True, text=True, timeout=900,
                          env=predictor_env(qgis_env(tmp_path / 'home')), cwd=tmp_path)
    assert proc.returncode == 0 and report.exists(), proc.stdout + proc.stderr
    return json.loads(report.read_text())


def expected_colours():
    from segearth_ov.mapping.predictor import parse_classes
    from segearth_ov.visualization import class_colours
    return ['#%02x%02x%02x' % tuple(int(v) for v in c)
            for c in class_colours(parse_classes(CLASSES).classes)]


def regions_of(labels_tif) -> tuple[dict, dict, float]:
    """4-connected regions per class of a class raster: counts, pixel counts, pixel area."""
    from scipy import ndimage
    with rasterio.open(labels_tif) as src:
        labels, area = src.read(1), abs(src.transform.a * src.transform.e)
    counts, pixels = {}, {}
    for k in np.unique(labels):
        if k == 255:
            continue
        counts[int(k)] = int(ndimage.label(labels == k)[1])
        pixels[int(k)] = int((labels == k).sum())
    return counts, pixels, area


def write_trained(tmp_path):
    """A trained HG-RSOVSSeg config + checkpoint (tests/hg's tiny model)."""
    hg = load_script('tests/hg/hg_helpers.py')
    return hg.save_trained(hg.tiny_hg(['red', 'green', 'blue']), ['red', 'green', 'blue'], tmp_path)


def test_plugin_in_qgis(tmp_path, tile):
    """One QGIS session: a run loaded into the project, the trained model on an extent, a
    Cancel and a failing run."""
    out = tmp_path / 'out'
    cfg, ckpt = write_trained(tmp_path)
    latin1 = tmp_path / 'classes.txt'           # refused before the model is built
    latin1.write_bytes('water\nforêt,bois\n'.encode('latin-1'))
    alg = 'segearth_ov:segment_by_class_names'
    main_params = dict(INPUT=str(tile), CLASSES=CLASSES, OPTIONS=GSD, **TINY,
                       OUTPUT=str(out / 'classes.tif'), OUTPUT_POLYGONS=str(out / 'polygons.gpkg'),
                       OUTPUT_PROBS=str(out / 'probs.tif'))
    # the tile's upper-left quarter (ETRS89 / UTM 32N, 0.5 m pixels: 250 × 250 px)
    with rasterio.open(tile) as src:
        b = src.bounds
    quarter = f'{b.left},{b.left + 125},{b.top - 125},{b.top} [EPSG:25832]'
    runs = [
        dict(alg=alg, params=main_params, load=True),
        dict(alg='segearth_ov:segment_with_trained_model',
             params=dict(INPUT=str(tile), CLASSES='red;green;blue', CONFIG=str(cfg),
                         CHECKPOINT=str(ckpt), DEVICE=1, EXTENT=quarter, OPTIONS='--threads 1',
                         OUTPUT=str(out / 'trained.tif'))),
        dict(alg=alg, cancel_at=5, params=dict(
            INPUT=str(tile), CLASSES=CLASSES, OPTIONS='--threads 1', **TINY,
            OUTPUT=str(out / 'canceled.tif'))),
        dict(alg=alg, setting=str(Path(sys.prefix) / 'bin' / 'python'),
             params=dict(INPUT=str(tile), CLASS_FILE=str(latin1), **TINY,
                         OUTPUT=str(out / 'failed.tif'))),
    ]
    report = run_in_qgis(tmp_path, runs)
    assert report['provider'] == 'SegEarth-OV' and report['icon']
    assert report['display'] == ['Segment raster by class names',
                                 'Segment with a trained HG-RSOVSSeg model']
    main, trained, canceled, failed = report['runs']

    # the class raster: the tile's CRS, the class names and colours of the .qml
    assert 'exception' not in main, main
    raster = main['raster']
    assert raster['valid'] and raster['crs'] == 'EPSG:25832'
    assert (raster['width'], raster['height']) == (1000, 1000)
    colours = expected_colours()
    assert raster['renderer'] == 'paletted'
    assert raster['classes'] == [[i, n, c] for i, (n, c) in enumerate(zip(NAMES, colours))]
    assert main['probs']['bands'] == 6     # a band per class, and QGIS's for the file's mask
    # polygons: one per 4-connected region, areas = pixels × pixel area, styled alike
    counts, pixels, area = regions_of(out / 'classes.tif')
    poly = main['polygons']
    assert poly['crs'] == 'EPSG:25832'
    assert {'class_name', 'class_index', 'pixels', 'area_m2', 'mean_prob'} <= set(poly['fields'])
    assert poly['counts'] == {str(k): v for k, v in counts.items()}
    assert poly['features'] == sum(counts.values())
    for k, n in pixels.items():
        assert poly['areas'][str(k)] == pytest.approx(n * area, rel=1e-9)
    assert poly['renderer'] == 'categorizedSymbol' and poly['attribute'] == 'class_index'
    assert poly['categories'] == [[i, n, c] for i, (n, c) in enumerate(zip(NAMES, colours))]
    # loaded into the project, named after the input layer, with their styles
    assert main['loaded'] == [['oem_koeln_50 class probabilities', 'multibandcolor'],
                              ['oem_koeln_50 classes', 'paletted'],
                              ['oem_koeln_50 polygons', 'categorizedSymbol']]
    # progress went from the model through the 9 tiles to the end
    progress = main['progress']
    progress = progress[:progress.index(100) + 1]      # then runAndLoadResults loads the layers
    assert progress == sorted(progress)
    assert [p for p in progress if 5 < p < 95] == pytest.approx([5 + 10 * k for k in range(1, 9)])
    assert any('SegEarth-OV: building the model' in i for i in main['infos'])
    # the predictor of the activated environment ($VIRTUAL_ENV)
    assert main['commands'][0].split()[0] == str(Path(sys.prefix) / 'bin' / 'segearth-predict')

    # the trained model, on an extent: its classes, and the raster covers the extent
    assert 'exception' not in trained, trained
    assert [c[1] for c in trained['raster']['classes']] == ['red', 'green', 'blue']
    assert (trained['raster']['width'], trained['raster']['height']) == (250, 250)
    with rasterio.open(out / 'trained.tif') as src:
        assert (src.bounds.left, src.bounds.top) == (b.left, b.top)
        assert src.crs.to_epsg() == 25832

    # Cancel: stopped within seconds, no output, no predictor left running
    assert canceled['exception'] == 'canceled: the SegEarth-OV predictor was stopped'
    assert canceled['stopped_after'] < 15
    assert not (out / 'canceled.tif').exists()
    assert not list(out.glob('.segearth_ov_*'))            # work folders removed
    left = [p for p in Path('/proc').glob('[0-9]*')
            if str(out).encode() in _cmdline(p)]
    assert not left

    # a failing run: the predictor's error line in the exception and QGIS's log
    message = (f'error: class-name file {latin1}: not UTF-8 text (byte 0xea on line 2); save '
               'it as UTF-8')
    assert failed['exception'] == f'the SegEarth-OV predictor failed (exit status 2):\n{message}'
    assert failed['errors'] == [message]
    # that run used the plugin's setting: the environment's Python, with the predictor module
    assert failed['commands'][0].split()[:3] == [str(Path(sys.prefix) / 'bin' / 'python'), '-m',
                                                 'segearth_ov.mapping.cli']


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / 'cmdline').read_bytes()
    except OSError:
        return b''


@pytest.mark.skipif(QGIS_PROCESS is None, reason='qgis_process is not installed')
def test_qgis_process_runs_the_plugin_installed_from_its_zip(tmp_path, tile):
    """`make qgis-plugin`'s zip unpacked into a fresh profile, enabled, run by qgis_process."""
    build = load_script('qgis/build_zip.py')
    zip_path = build.build(tmp_path / 'segearth_ov_qgis.zip')
    home = tmp_path / 'home'
    plugins = home / '.local/share/QGIS/QGIS3/profiles/default/python/plugins'
    plugins.mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as z:
        names = z.namelist()
        z.extractall(plugins)
    assert {'segearth_ov_qgis/metadata.txt', 'segearth_ov_qgis/icon.png',
            'segearth_ov_qgis/LICENSE', 'segearth_ov_qgis/__init__.py'} <= set(names)
    meta = (plugins / 'segearth_ov_qgis' / 'metadata.txt').read_text()
    assert 'qgisMinimumVersion=3.22' in meta and 'hasProcessingProvider=yes' in meta
    env = predictor_env(qgis_env(home))

    def qgis_process(*args):
        return subprocess.run([QGIS_PROCESS, *args], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=600)
    enabled = qgis_process('plugins', 'enable', 'segearth_ov_qgis')
    assert enabled.returncode == 0, enabled.stdout + enabled.stderr
    out = tmp_path / 'out'
    params = dict(INPUT=str(tile), CLASSES=CLASSES, OPTIONS='--gsd 2.5 --threads 1', **TINY,
                  OUTPUT=str(out / 'classes.tif'), OUTPUT_POLYGONS=str(out / 'polygons.fgb'))
    proc = qgis_process('--json', 'run', 'segearth_ov:segment_by_class_names', '--',
                        *[f'{k}={v}' for k, v in params.items()])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout[proc.stdout.index('{'):])
    assert result['results']['OUTPUT'] == str(out / 'classes.tif')
    assert result['results']['OUTPUT_POLYGONS'] == str(out / 'polygons.fgb')
    with rasterio.open(out / 'classes.tif') as src:
        assert src.crs.to_epsg() == 25832 and src.shape == (1000, 1000)
    qml = (out / 'classes.qml').read_text()
    assert all(f'label="{n}"' in qml for n in NAMES)
    assert (out / 'polygons.qml').is_file()
    import pyogrio
    counts, _, _ = regions_of(out / 'classes.tif')
    assert pyogrio.read_info(out / 'polygons.fgb')['features'] == sum(counts.values())
