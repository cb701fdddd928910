"""Region prediction (segearth_ov/mapping/region/): work units over torchrun ranks, resuming,
checksums, the VRT mosaic and the STAC catalogue.

The model is `region_worker.stub`: the per-pixel linear stub of tools/benchmark_scene.py
plus each tile's mean colour, so a pixel's result depends on which tiles cover it — a block
that missed an overlapping tile row would differ from the single-process scene. The
command line is run once with the tiny fixture CLIP. One torch thread per process.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine

from conftest import JBU_CKPT, TINY_CFG, TINY_PT, run_launcher
from segearth_ov.mapping import predictor
from segearth_ov.mapping import region

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import region_worker as W  # noqa: E402

ROOT = HERE.parents[1]
SIZES = [(300, 200), (90, 120), (100, 80), (70, 150), (120, 100)]   # the first is split


pytestmark = pytest.mark.usefixtures('one_thread')


def write_scenes(folder: Path, crs='EPSG:32632') -> list[Path]:
    """Five uint8 RGB GeoTIFFs, 0.5 m pixels, side by side with gaps and overlaps."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, (h, w) in enumerate(SIZES):
        img = rng.integers(1, 255, (3, h, w), dtype=np.uint8)
        path = folder / f'scene{k}.tif'
        with rasterio.open(path, 'w', driver='GTiff', height=h, width=w, count=3, dtype='uint8',
                           crs=crs, transform=Affine(0.5, 0, 500000 + 60 * k, 0, -0.5,
                                                     5600000 - 30 * k)) as dst:
            dst.write(img)
        paths.append(path)
    return paths


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    return write_scenes(tmp_path_factory.mktemp('scenes'))


def labels_of(out: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(out.glob('*_labels.tif'))}


def state(out: Path) -> dict:
    """(mtime_ns, inode) of every output file: a rewritten file changes both."""
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_ino) for p in sorted(out.iterdir())
            if p.is_file() and p.name.startswith('scene')}


def run_single(out, scenes, crop=32, max_units=None):
    return region.run_region(W.stub(crop), W.job(out, scenes, max_units))


@pytest.fixture(scope='module')
def single(tmp_path_factory, scenes):
    out = tmp_path_factory.mktemp('single')
    run_single(out, scenes)
    return out


# ------------------------------------------------------------------------------ the plan
def test_plan_splits_large_scenes_and_balances_ranks(scenes):
    model = W.stub(32)
    units = region.plan_region(scenes, predictor.SceneOptions(tile=64, overlap=16), predictor.slide_settings(model),
                               2, split_pixels=20_000)
    blocks = [u for u in units if u.stem == 'scene0']
    assert len(blocks) == 3 and all(u.block is not None for u in blocks)
    # the blocks' rows tile the scene without gap or overlap
    assert blocks[0].rows[0] == 0 and blocks[-1].rows[1] == 300
    assert all(a.rows[1] == b.rows[0] for a, b in zip(blocks, blocks[1:]))
    # later blocks recompute the tile rows overlapping theirs: more tiles than their own
    assert blocks[1].tiles > (blocks[1].tile_rows[1] - blocks[1].tile_rows[0]) * 4
    assert [u.block for u in units if u.stem != 'scene0'] == [None] * 4
    load = [sum(u.pixels for u in units if u.rank == r) for r in range(2)]
    assert sum(load) == sum(h * w for h, w in SIZES)
    assert abs(load[0] - load[1]) <= max(u.pixels for u in units)
    again = region.plan_region(scenes, predictor.SceneOptions(tile=64, overlap=16), predictor.slide_settings(model),
                               2, split_pixels=20_000)
    assert [(u.id, u.rank) for u in again] == [(u.id, u.rank) for u in units]


# ------------------------------------------------------------------------------ distributed
def test_two_ranks_equal_single_process_and_the_scene_predictor(tmp_path, scenes, single):
    out = tmp_path / 'two'
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(ROOT))
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
           '--standalone', str(HERE / 'region_worker.py'),    # torchrun binds free ports
           str(out), '32', '-1', *map(str, scenes)]
    proc = run_launcher(cmd, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'rank 1:' in proc.stdout           # both ranks reported in the summary
    two, one = labels_of(out), labels_of(single)
    assert sorted(two) == [f'scene{k}_labels.tif' for k in range(5)]
    assert two == one                          # byte-identical class maps
    manifest = json.loads((out / 'region_manifest.json').read_text())
    assert {u['rank'] for u in manifest['units']} == {0, 1}
    assert not list((out / '.region' / 'blocks').glob('*.npy'))   # blocks removed once assembled
    logs = sorted(p.name for p in (out / '.region' / 'logs').iterdir())
    assert logs == ['rank0.log', 'rank1.log']
    # and the split scene is the single-process predictor's, pixel for pixel
    model = W.stub(32)
    ref = predictor.predict(scenes[0], model=model, tile=64, overlap=16)
    with rasterio.open(out / 'scene0_labels.tif') as src:
        assert np.array_equal(src.read(1), ref)
        assert src.colormap(1)[0][:3] != (0, 0, 0) and 'CLASS_NAMES' in src.tags()


# ------------------------------------------------------------------------------ resuming
def test_interrupted_run_resumes_without_touching_finished_outputs(tmp_path, scenes, single):
    out = tmp_path / 'resume'
    first = run_single(out, scenes, max_units=4)     # largest first: in input order: scene0's 3 blocks, scene1
    assert first['stopped']
    done = state(out)
    assert sorted(done) == ['scene1_classes.txt', 'scene1_labels.qml', 'scene1_labels.tif',
                            'scene1_labels.tif.aux.xml', 'scene1_summary.json']
    assert not (out / 'region_manifest.json').exists()
    assert len(list((out / '.region' / 'blocks').glob('*.labels.npy'))) == 3
    # what a process killed while writing leaves behind: temporary files, never final names
    (out / '.scene2_labels.tif.partial-99999.tif').write_bytes(b'half')
    result = run_single(out, scenes)
    assert result['scenes'] == 5
    after = state(out)
    assert {k: after[k] for k in done} == done        # finished outputs not rewritten
    assert result['stats'][0]['units'] == 3           # finished units not recomputed
    assert labels_of(out) == labels_of(single)
    assert not list(out.glob('.*partial*'))


def test_resumed_run_says_how_many_units_were_done_earlier(tmp_path, scenes, capsys):
    """Was "rank 0: 0 unit(s)" for a rerun of a finished region, as if nothing was done."""
    out = tmp_path / 'again'
    first = run_single(out, scenes[1:3], max_units=1)
    assert first['stopped']
    capsys.readouterr()
    run_single(out, scenes[1:3])
    assert 'rank 0: 1 unit(s) this run (1 done by an earlier run), ' in capsys.readouterr().out
    run_single(out, scenes[1:3])
    assert 'rank 0: 0 unit(s) this run (2 done by an earlier run), ' in capsys.readouterr().out


def test_killed_run_resumes(tmp_path, scenes, single):
    """SIGKILL in the middle of a run: the worker kills itself at the second tile of its
    fifth unit (of seven), a point the test knows (polling for finished records could see
    more than it waited for). The rerun finishes, keeps what was finished and leaves no
    temporary file."""
    import signal
    out = tmp_path / 'killed'
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(ROOT),
               REGION_TEST_KILL_AFTER_UNITS='4')
    proc = subprocess.run([sys.executable, str(HERE / 'region_worker.py'), str(out), '32',
                           '-1', *map(str, scenes)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    records = out / '.region' / 'units'
    finished = sorted(p.stem for p in records.glob('*.json') if not p.name.startswith('.'))
    assert len(finished) == 4, finished      # killed after four units, before the end
    assert not (out / 'region_manifest.json').exists()
    assert list(out.glob('.*partial*'))      # the fifth unit's output, half written
    done = {k: v for k, v in state(out).items() if k.split('_')[0] in finished}
    result = run_single(out, scenes)
    after = state(out)
    assert {k: after[k] for k in done} == done
    assert result['stats'][0]['units'] == 7 - len(finished)
    assert labels_of(out) == labels_of(single)
    assert not list(out.glob('.*partial*')) and not list(out.glob('.region/blocks/.*partial*'))


def test_truncated_output_is_detected_and_redone(tmp_path, scenes, single):
    out = tmp_path / 'corrupt'
    run_single(out, scenes)
    victim = out / 'scene3_labels.tif'
    victim.write_bytes(victim.read_bytes()[:-500])
    split = out / 'scene0_labels.tif'           # an assembled scene: its blocks are redone
    split.write_bytes(split.read_bytes()[:100])
    before = state(out)
    result = run_single(out, scenes)
    after = state(out)
    changed = {k for k in before if before[k] != after[k]}
    assert 'scene3_labels.tif' in changed and 'scene0_labels.tif' in changed
    assert 'scene1_labels.tif' not in changed and 'scene4_summary.json' not in changed
    assert result['stats'][0]['units'] == 1 + 3      # scene3, and scene0's three blocks
    assert labels_of(out) == labels_of(single)


# ------------------------------------------------------------------------------ region outputs
def test_vrt_covers_the_union_and_stac_lists_scenes_with_classes(single, scenes):
    import pystac
    bounds = []
    for p in scenes:
        with rasterio.open(p) as src:
            bounds.append(src.bounds)
    with rasterio.open(single / 'region_labels.vrt') as vrt:
        b = vrt.bounds
        assert b.left == min(x.left for x in bounds) and b.right == max(x.right for x in bounds)
        assert b.top == max(x.top for x in bounds) and b.bottom == min(x.bottom for x in bounds)
        assert vrt.crs.to_epsg() == 32632 and vrt.nodata == 255
        mosaic = vrt.read(1)
    with rasterio.open(single / 'scene4_labels.tif') as src:   # the last source drawn wins
        win = vrt_window(b, src.bounds, 0.5)
        assert np.array_equal(mosaic[win], src.read(1))
    cat = pystac.Catalog.from_file(str(single / 'stac' / 'catalog.json'))
    items = {i.id: i for i in cat.get_items(recursive=True)}
    assert sorted(items) == [f'scene{k}' for k in range(5)]
    item = items['scene2']
    assert item.properties['proj:code'] == 'EPSG:32632' or item.properties.get('proj:epsg') == 32632
    classes = item.assets['labels'].extra_fields['classification:classes']
    assert [c['description'] for c in classes] == ['water', 'field', 'town']
    assert all(len(c['color_hint']) == 6 for c in classes)
    lon, lat = item.geometry['coordinates'][0][0]
    assert 8.9 < lon < 9.1 and 50.5 < lat < 50.6      # UTM 32N, 500 km E, 5600 km N
    assert Path(item.assets['labels'].get_absolute_href()).is_file()


def vrt_window(mosaic, scene, res):
    r0 = round((mosaic.top - scene.top) / res)
    c0 = round((scene.left - mosaic.left) / res)
    h, w = round((scene.top - scene.bottom) / res), round((scene.right - scene.left) / res)
    return slice(r0, r0 + h), slice(c0, c0 + w)


def test_mixed_crs_needs_target_crs(tmp_path, scenes):
    other = write_scenes(tmp_path / 'other', crs='EPSG:32633')[:1]
    renamed = other[0].rename(other[0].with_name('east.tif'))
    with pytest.raises(ValueError, match='--target-crs'):
        region.check_same_crs([scenes[1], renamed])
    out = tmp_path / 'warped'
    job = W.job(out, [scenes[1], renamed], target_crs='EPSG:3857')
    region.run_region(W.stub(32), job)
    with rasterio.open(out / 'region_labels.vrt') as vrt:
        assert vrt.crs.to_epsg() == 3857


# ------------------------------------------------------------------------------ command line
def test_cli_region_mode_with_fixture_model_and_dry_run(tmp_path, scenes, capsys):
    argv = [str(scenes[1]), str(scenes[2]), '--classes', 'water;field;town',
            '--pretrained', str(TINY_PT), '--model-cfg', str(TINY_CFG),
            '--upsampler-ckpt', str(JBU_CKPT['jbu_one']), '--device', 'cpu', '--threads', '1',
            '--out', str(tmp_path / 'cli'), '--quiet', '--region']
    assert region.main(argv + ['--dry-run', '--ranks', '2']) == 0
    out = capsys.readouterr().out
    assert 'over 2 rank(s)' in out and 'rank 1: 1 unit(s)' in out and 'estimated peak' in out
    assert region.main(argv) == 0
    assert 'region: 2 scene(s)' in capsys.readouterr().out
    assert (tmp_path / 'cli' / 'stac' / 'catalog.json').is_file()
    with rasterio.open(tmp_path / 'cli' / 'scene1_labels.tif') as src:
        assert src.read(1).max() < 3
    assert region.main(argv[:-1] + ['--target-crs', 'nonsense:1', '--no-mosaic', '--region',
                                    '--classes-file', 'x']) == 2
    assert 'not both' in capsys.readouterr().err


def test_split_scene_probabilities_equal_predict_file(tmp_path, scenes):
    """--save-probs: blocks keep float probabilities; the assembled file is predict_file's."""
    model = W.stub(32)
    region.run_region(model, W.job(tmp_path / 'region', scenes[:1], save_probs=True))
    predictor.predict_file(scenes[0], model, tmp_path / 'ref', options=predictor.SceneOptions(tile=64, overlap=16),
                           save_probs=True, overlay=False, progress=False)
    for name in ('scene0_labels.tif', 'scene0_probs.tif'):
        with rasterio.open(tmp_path / 'region' / name) as a, rasterio.open(tmp_path / 'ref' / name) as b:
            assert a.count == b.count and np.array_equal(a.read(), b.read())
    manifest = json.loads((tmp_path / 'region' / 'region_manifest.json').read_text())
    assert 'scene0_probs.tif' in manifest['scenes']['scene0']['outputs']


def test_unreadable_scene_is_reported_and_the_rest_finishes(tmp_path, scenes, capsys):
    """A scene whose header reads but whose pixels do not (cut short in a copy): the others
    are finished, mosaicked and catalogued; the failure is named; a rerun after fixing it
    does only that scene."""
    bad = tmp_path / 'bad.tif'
    data = scenes[0].read_bytes()
    bad.write_bytes(data[:len(data) // 3])
    out = tmp_path / 'out'
    result = region.run_region(W.stub(32), W.job(out, [scenes[1], bad, scenes[2]]))
    assert result['failed'] == ['bad'] and result['scenes'] == 2
    assert 'bad' in capsys.readouterr().out
    assert sorted(labels_of(out)) == ['scene1_labels.tif', 'scene2_labels.tif']
    assert 'bad' in (out / '.region' / 'logs' / 'rank0.log').read_text()
    with rasterio.open(out / 'region_labels.vrt') as vrt:
        assert vrt.read(1).size
    bad.write_bytes(data)
    again = region.run_region(W.stub(32), W.job(out, [scenes[1], bad, scenes[2]]))
    assert again['failed'] == [] and again['scenes'] == 3
    assert again['stats'][0]['units'] == 3            # bad's three blocks only


def test_split_scene_polygons_and_stac_assets(tmp_path, scenes):
    """--vector in region mode: the polygons of a scene split into blocks (assembled by the
    block owner) equal predict_file's of the whole scene; the STAC item lists the COG class
    map and probabilities, the GeoPackage polygons and the summary with their media types
    and roles, and the class maps pass rio-cogeo's validator."""
    import pystac
    import pyogrio
    from rio_cogeo.cogeo import cog_validate
    from segearth_ov.mapping.vectors import VectorOptions
    model, vector = W.stub(32), VectorOptions(block_rows=50)
    region.run_region(model, W.job(tmp_path / 'region', scenes[:2], save_probs=True, vector=vector))
    predictor.predict_file(scenes[0], model, tmp_path / 'ref', options=predictor.SceneOptions(tile=64, overlap=16),
                           save_probs=True, overlay=False, progress=False, vector=vector)
    a = pyogrio.read_dataframe(tmp_path / 'region' / 'scene0_polygons.gpkg')
    b = pyogrio.read_dataframe(tmp_path / 'ref' / 'scene0_polygons.gpkg')
    assert len(a) > 10 and a.drop(columns='geometry').equals(b.drop(columns='geometry'))
    assert a.geometry.geom_equals_exact(b.geometry, 0).all()
    cat = pystac.Catalog.from_file(str(tmp_path / 'region' / 'stac' / 'catalog.json'))
    item = {i.id: i for i in cat.get_items(recursive=True)}['scene0']
    cog = 'image/tiff; application=geotiff; profile=cloud-optimized'
    got = {k: (v.media_type, v.roles) for k, v in item.assets.items()}
    assert got == {'labels': (cog, ['data']), 'probs': (cog, ['data']),
                   'polygons': ('application/geopackage+sqlite3', ['data']),
                   'summary': ('application/json', ['metadata'])}
    for key in ('labels', 'probs', 'polygons'):
        assert Path(item.assets[key].get_absolute_href()).is_file()
    assert cog_validate(item.assets['labels'].get_absolute_href())[0]
    assert 'classification:classes' in item.assets['polygons'].extra_fields


# ------------------------------------------------------------------------------ devices
def test_each_torchrun_rank_takes_its_local_rank_gpu(tmp_path, scenes, monkeypatch, capsys):
    """`--device cuda:0` given to every rank of a 4-process torchrun: rank 2 must use
    cuda:2 (the explicit index used to win on every rank: all ranks on one GPU). A fake
    CUDA of 4 devices on this CPU machine; the process group is not really started."""
    import torch.distributed as dist
    from segearth_ov.utils import distributed
    chosen, started, built, group = [], [], [], []
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 4)
    monkeypatch.setattr(torch.cuda, 'set_device', chosen.append)
    monkeypatch.setattr(dist, 'init_process_group', lambda backend, **kw: started.append(backend))
    monkeypatch.setattr(dist, 'is_initialized', lambda: bool(group))
    monkeypatch.setattr(dist, 'destroy_process_group', group.clear)
    for k, v in dict(WORLD_SIZE='4', RANK='6', LOCAL_RANK='2', LOCAL_WORLD_SIZE='4').items():
        monkeypatch.setenv(k, v)
    for device in ('cuda:0', 'cuda:3', 'cuda', None):
        assert distributed.init_distributed(device).device == torch.device('cuda', 2)
    assert chosen == [torch.device('cuda', 2)] * 4 and started == ['nccl'] * 4

    # through the region command line: the model is built on the rank's GPU; the process
    # group it started is destroyed although the run ends in an error
    def build_model(classes, **settings):
        group.append('nccl group')       # as if init_process_group had started one
        built.append(settings['device'])
        raise ValueError('stop before building')
    monkeypatch.setattr(predictor, 'build_model', build_model)
    argv = [str(scenes[1]), '--classes', 'a;b', '--device', 'cuda:0', '--threads', '1',
            '--out', str(tmp_path / 'out'), '--no-mosaic', '--quiet']
    assert region.main(argv) == 2 and built == ['cuda:2']
    assert not group, 'the process group outlived the failed run'

    # one process keeps an explicit index; an index beyond the GPUs is named
    monkeypatch.setenv('WORLD_SIZE', '1')
    monkeypatch.setenv('LOCAL_RANK', '0')
    assert distributed.init_distributed('cuda:3').device == torch.device('cuda', 3)
    with pytest.raises(ValueError, match=r'cuda:5 asked for, but 4 GPU\(s\) are visible'):
        distributed.init_distributed('cuda:5')
    monkeypatch.setenv('WORLD_SIZE', '8')
    monkeypatch.setenv('LOCAL_RANK', '5')
    assert region.main(argv) == 2
    assert 'cuda:5 (LOCAL_RANK 5) asked for, but 4 GPU(s)' in capsys.readouterr().err


def test_a_checkpoint_replaced_at_the_same_path_is_another_run(tmp_path):
    """Records of a run with the old weights must not count as finished units of the new."""
    ckpt = tmp_path / 'iter_10.pth'
    ckpt.write_bytes(b'weights of step 10')
    classes = predictor.parse_classes('a;b')
    settings = dict(config='hg.py', checkpoint=str(ckpt))
    options = predictor.SceneOptions()

    def key():
        return region.run_key(classes, settings, options, False, 'uint8', 'auto', True)
    before = key()
    assert key() == before
    ckpt.write_bytes(b'weights of step 20, retrained')
    assert key() != before


def test_dist_predict_checks_its_inputs_before_starting_workers(tmp_path):
    """`bash dist_predict.sh 2 scenes/` with scenes/ missing: one error line from one
    process, no worker started. Was: "image not found" once per worker, then torchrun's
    traceback."""
    import time
    root = Path(__file__).resolve().parents[2]
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='', PYTHON=sys.executable,
               PATH=f'{bin_dir}{os.pathsep}{os.environ.get("PATH", "")}', PORT='0',
               TORCHRUN=str(tmp_path / 'torchrun_must_not_run'))
    (tmp_path / 'torchrun_must_not_run').write_text('#!/bin/sh\necho STARTED >&2\nexit 9\n')
    (tmp_path / 'torchrun_must_not_run').chmod(0o755)
    t0 = time.time()
    proc = run_launcher(['bash', 'dist_predict.sh', '2', str(tmp_path / 'scenes'), '--classes',
                         'road;building', '--out', str(tmp_path / 'out')],
                        cwd=root, env=env, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == [f'error: image not found: {tmp_path / "scenes"}']
    assert not (tmp_path / 'out').exists() and time.time() - t0 < 120
