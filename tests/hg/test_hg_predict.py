"""A trained HG-RSOVSSeg model maps images through the predictor (--config … --checkpoint …)."""
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine

from conftest import run_launcher
from hg_helpers import save_trained, tiny_hg

CLASSES = ['red', 'green', 'blue']


def write_trained(tmp_path):
    """A config and a checkpoint whose decoder differs from a fresh build (seeded noise)."""
    model = tiny_hg(CLASSES)
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not name.startswith('image_encoder') and p.requires_grad:
                p.add_(torch.randn(p.shape, generator=g) * 0.5)
    cfg, ckpt = save_trained(model, CLASSES, tmp_path)
    return model.eval(), cfg, ckpt


def test_predictor_runs_the_trained_model_from_its_checkpoint(tmp_path):
    import segearth_ov
    trained, cfg, ckpt = write_trained(tmp_path)
    rgb = np.random.default_rng(0).integers(0, 255, (64, 80, 3), dtype=np.uint8)
    out = segearth_ov.predict(rgb, 'red;green;blue', config=str(cfg), checkpoint=str(ckpt))
    labels = out if isinstance(out, np.ndarray) else out[0]

    bgr = torch.from_numpy(np.ascontiguousarray(rgb[..., ::-1].transpose(2, 0, 1)))
    inputs = trained.data_preprocessor(dict(inputs=[bgr]), training=False)['inputs']
    with torch.no_grad():
        expected = trained.labels(trained.class_probabilities(trained.image_logits(inputs)[0]))
    assert labels.shape == (64, 80)
    assert (labels == expected[0].numpy()).mean() > 0.999
    fresh = tiny_hg(CLASSES).eval()
    with torch.no_grad():
        untrained = fresh.labels(fresh.class_probabilities(fresh.image_logits(inputs)[0]))
    assert (labels != untrained[0].numpy()).any()   # the checkpoint's weights were used


def test_checkpoint_holding_other_objects_is_refused_in_our_words(tmp_path):
    """Was torch's message, with its advice to load with weights_only=False."""
    import argparse
    from segearth_ov.mapping.predictor import build_model
    from segearth_ov.utils.checkpoints import CheckpointError
    trained, cfg, ckpt = write_trained(tmp_path)
    torch.save({'state_dict': trained.state_dict(), 'meta': {'args': argparse.Namespace()}}, ckpt)
    with pytest.raises(CheckpointError) as err:
        build_model(CLASSES, config=str(cfg), checkpoint=str(ckpt))
    assert f'{ckpt} is a PyTorch checkpoint holding an object of type argparse.Namespace' \
        in str(err.value)
    assert 'weights_only' not in str(err.value)


def test_checkpoint_needs_its_config_and_a_trained_config_needs_its_checkpoint(tmp_path):
    from segearth_ov.mapping.predictor import build_model
    _, cfg, ckpt = write_trained(tmp_path)
    with pytest.raises(ValueError, match='--checkpoint needs the --config'):
        build_model('red;green', checkpoint=str(ckpt))
    with pytest.raises(ValueError, match='give its weights with --checkpoint'):
        build_model('red;green', config=str(cfg))
    # the training-free segmentor's options are named, not a TypeError of the constructor
    with pytest.raises(ValueError, match='prob_thd: not a setting of the trained HGRSOVSeg'):
        build_model('red;green', config=str(cfg), checkpoint=str(ckpt), prob_thd=0.5,
                    device='cpu')


# ------------------------------------------------------------------------------ command line
# The commands as a user types them, run as subprocesses (tools/predict.py, dist_predict.sh):
# the in-memory API above missed that the CLI crashed on trained models (issue 20 item 5).
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def write_scenes(folder: Path, n: int) -> list[Path]:
    """Small UTM GeoTIFFs of coloured rectangles on grey (the classes' colours)."""
    from hg_helpers import COLOURS
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True)
    paths = []
    for k in range(n):
        img = rng.integers(90, 160, (3, 40, 56), dtype=np.uint8)
        for c, colour in enumerate(COLOURS.values()):
            y, x = rng.integers(0, 24), rng.integers(0, 40)
            img[:, y:y + 14, x:x + 14] = np.array(colour, np.uint8)[:, None, None]
        path = folder / f'scene{k}.tif'
        with rasterio.open(path, 'w', driver='GTiff', height=40, width=56, count=3,
                           dtype='uint8', crs='EPSG:32632',
                           transform=Affine(0.5, 0, 500000 + 40 * k, 0, -0.5, 5600000)) as dst:
            dst.write(img)
        paths.append(path)
    return paths


def run(cmd):
    """A command in the project root with one torch thread per process and no GPU (PORT=0:
    dist_predict.sh's torchrun binds free ports itself)."""
    env = dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='', PYTHON=sys.executable,
               PATH=f'{BIN}{os.pathsep}{os.environ.get("PATH", "")}', PYTHONPATH=str(ROOT),
               PORT='0')
    return run_launcher([str(c) for c in cmd], cwd=ROOT, env=env, timeout=300)


def labels_of(out: Path) -> dict:
    result = {}
    for path in sorted(out.glob('*_labels.tif')):
        with rasterio.open(path) as src:
            assert src.crs.to_epsg() == 32632
            result[path.name] = src.read(1)
    return result


def test_cli_maps_scenes_with_the_trained_checkpoint(tmp_path):
    """`tools/predict.py A B --config CFG --checkpoint CKPT` (no --device): every input's
    class map and summary, the trained model's labels, the checkpoint recorded."""
    import segearth_ov
    trained, cfg, ckpt = write_trained(tmp_path)
    scenes = write_scenes(tmp_path / 'scenes', 2)
    out = tmp_path / 'out'
    proc = run([sys.executable, 'tools/predict.py', *scenes, '--classes', 'red;green;blue',
                '--config', cfg, '--checkpoint', ckpt, '--out', out, '--quiet',
                '--threads', '1'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'HG-RSOVSSeg' in proc.stdout
    got = labels_of(out)
    assert sorted(got) == ['scene0_labels.tif', 'scene1_labels.tif']
    for scene in scenes:
        ref = segearth_ov.predict(scene, model=trained)
        assert (got[f'{scene.stem}_labels.tif'] == ref).mean() > 0.999
        summary = json.loads((out / f'{scene.stem}_summary.json').read_text())
        assert summary['model']['model_type'] == 'HG-RSOVSSeg'
        assert summary['model']['checkpoint']['file'] == os.path.abspath(ckpt)
        assert summary['valid_pixels'] == 40 * 56


def test_dist_predict_sh_with_the_trained_checkpoint_and_device(tmp_path):
    """`bash dist_predict.sh 2 … --config … --checkpoint … --device cpu` (torchrun, 2 gloo
    ranks, region mode): both ranks at work, the trained model's class maps, the region
    outputs written."""
    import segearth_ov
    trained, cfg, ckpt = write_trained(tmp_path)
    scenes = write_scenes(tmp_path / 'scenes', 3)
    out = tmp_path / 'region'
    proc = run(['bash', 'dist_predict.sh', '2', *scenes, '--classes', 'red;green;blue',
                '--config', cfg, '--checkpoint', ckpt, '--device', 'cpu', '--quiet',
                '--threads', '1', '--out', out])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert 'region: 3 scene(s)' in proc.stdout and 'rank 1:' in proc.stdout
    manifest = json.loads((out / 'region_manifest.json').read_text())
    assert {u['rank'] for u in manifest['units']} == {0, 1}
    got = labels_of(out)
    assert sorted(got) == [f'scene{k}_labels.tif' for k in range(3)]
    for scene in scenes:
        ref = segearth_ov.predict(scene, model=trained)
        assert (got[f'{scene.stem}_labels.tif'] == ref).mean() > 0.999
    summary = json.loads((out / 'scene2_summary.json').read_text())
    assert summary['model']['checkpoint']['file'] == os.path.abspath(ckpt)
    assert (out / 'region_labels.vrt').is_file() and (out / 'stac' / 'catalog.json').is_file()


def test_region_blocks_and_dry_run_follow_the_configs_slide(tmp_path, capsys):
    """A trained config's test_cfg slide (crop 64, stride 48, not the training-free 224/112):
    --dry-run plans with it, and region mode's split blocks — planned before the model is
    built — are cut with it, so the assembled class map equals the one-pass prediction.
    Both planned with 224/112 before: `--tile 128` was refused as smaller than the slide
    window 224, which this model does not have."""
    import segearth_ov
    from segearth_ov.mapping import region
    from segearth_ov.mapping.cli import main
    trained, cfg, ckpt = write_trained(tmp_path)
    cfg.write_text(cfg.read_text().replace("test_cfg=dict(mode='whole')",
                                           "test_cfg=dict(mode='slide', crop_size=64, stride=48)"))
    trained.test_cfg = dict(mode='slide', crop_size=64, stride=48)
    rng = np.random.default_rng(3)
    scene = tmp_path / 'tall.tif'
    with rasterio.open(scene, 'w', driver='GTiff', height=420, width=72, count=3, dtype='uint8',
                       crs='EPSG:32632', transform=Affine(0.5, 0, 500000, 0, -0.5, 5600000)) as dst:
        dst.write(rng.integers(0, 255, (3, 420, 72), dtype=np.uint8))
    common = [str(scene), '--classes', 'red;green;blue', '--config', str(cfg),
              '--checkpoint', str(ckpt), '--tile', '128', '--quiet', '--threads', '1']
    assert main(common + ['--dry-run']) == 0
    # 420 rows: windows of 64/48 start at 0, 48, …, 356 (9 windows); a tile of up to 128 px
    # holds 2 (64 + 48 = 112 px) → 5 tile rows; 72 columns: 2 windows → 1 tile column
    assert 'tiles 1 × 5 = 5 of up to 112 px, overlap 16 px' in capsys.readouterr().out
    out = tmp_path / 'region'
    assert region.main(common + ['--region', '--split-pixels', '10000', '--out', str(out)]) == 0
    manifest = json.loads((out / 'region_manifest.json').read_text())
    assert len(manifest['units']) > 1                                  # the scene was split
    with rasterio.open(out / 'tall_labels.tif') as src:
        got = src.read(1)
    assert (got == segearth_ov.predict(scene, model=trained)).all()


def test_trained_config_with_a_512_crop_needs_no_tile_flag(tmp_path, capsys):
    """A trained config's test_cfg crop (HG-RSOVSSeg's 512) sets the default tile. Was:
    "tile 448 is smaller than the slide window 512: use --tile 512", for --dry-run too."""
    from segearth_ov.mapping.cli import main
    trained, cfg, ckpt = write_trained(tmp_path)
    cfg.write_text(cfg.read_text().replace(
        "test_cfg=dict(mode='whole')", "test_cfg=dict(mode='slide', crop_size=(512, 512), "
        "stride=(341, 341))"))
    trained.test_cfg = dict(mode='slide', crop_size=(512, 512), stride=(341, 341))
    scenes = write_scenes(tmp_path / 'scenes', 1)
    common = [str(scenes[0]), '--classes', 'red;green;blue', '--config', str(cfg),
              '--checkpoint', str(ckpt), '--quiet', '--threads', '1', '--out',
              str(tmp_path / 'out')]
    assert main(common + ['--dry-run']) == 0
    captured = capsys.readouterr()
    assert captured.err == '' and 'tiles 1 × 1 = 1 of up to' in captured.out
    assert 'whole slide windows (512/341)' in captured.out
    assert main(common) == 0
    with rasterio.open(tmp_path / 'out' / 'scene0_labels.tif') as src:
        got = src.read(1)
    import segearth_ov
    assert (got == segearth_ov.predict(scenes[0], model=trained)).all()
