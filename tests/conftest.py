"""Shared test fixtures: the tiny seeded CLIP and SimFeatUp models of tests/data/models, the
reference's golden outputs of tests/data/golden (tests/data/README.md says what each file is).

The tests that build a model build it on one device: `--device` (pytest option), else
$SEGEARTH_TEST_DEVICE, else cpu (`model_device()`). `make test-gpu` runs with `--device cuda`;
tests marked `gpu` run only then.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from segearth_ov.utils.runtime import use_huge_pages

use_huge_pages()   # as the entry points do, before torch's first allocation in this process
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / 'tests' / 'data'
GOLDEN = DATA / 'golden'            # the reference's outputs (goldens.py reads them)
MODELS = DATA / 'models'
TINY_CFG = MODELS / 'tiny_clip' / 'tiny-clip-vit-b16.json'
TINY_PT = MODELS / 'tiny_clip' / 'tiny-clip-vit-b16.pt'
JBU_CKPT = {'jbu_one': MODELS / 'simfeatup' / 'tiny_jbu_one.ckpt',
            'jbu_stack': MODELS / 'simfeatup' / 'tiny_jbu_stack.ckpt'}
OEM_TILE = ROOT / 'data' / 'demo' / 'oem_koeln_50.tif'    # the demo tile, a real OpenEarthMap tile


def pytest_addoption(parser):
    parser.addoption('--device', default=None,
                     help='device of the tests that build a model: cpu (default) or cuda[:N] '
                          '(also $SEGEARTH_TEST_DEVICE); tests marked gpu run only on cuda')


def pytest_configure(config):
    device = config.getoption('--device') or os.environ.get('SEGEARTH_TEST_DEVICE') or 'cpu'
    if torch.device(device).type == 'cuda' and not torch.cuda.is_available():
        raise pytest.UsageError(f'--device {device}: torch sees no CUDA GPU here; use --device cpu')
    os.environ['SEGEARTH_TEST_DEVICE'] = device      # read by model_device(), and by subprocesses
    config.addinivalue_line('markers', 'gpu: runs only with --device cuda (make test-gpu)')


def pytest_collection_modifyitems(config, items):
    if torch.device(model_device()).type == 'cuda':
        return
    skip = pytest.mark.skip(reason='GPU test: run with --device cuda (make test-gpu)')
    for item in items:
        if 'gpu' in item.keywords:
            item.add_marker(skip)


def model_device() -> str:
    """The device the model-building tests use (see the module docstring)."""
    return os.environ.get('SEGEARTH_TEST_DEVICE') or 'cpu'


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own text-embedding cache, checkpoints folder and OpenAI-CLIP cache
    (a machine where `clip.load` once ran has ~/.cache/clip/ViT-B-16.pt, which the CLIP
    preset would find) and an offline hub."""
    monkeypatch.setenv('SEGEARTH_CACHE', str(tmp_path / 'cache'))
    monkeypatch.setenv('SEGEARTH_CHECKPOINTS', str(tmp_path / 'checkpoints'))
    monkeypatch.setenv('SEGEARTH_OPENAI_CLIP_CACHE', str(tmp_path / 'openai_clip'))
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _restored_thread_count():
    """The command lines run in-process set torch's thread count (--threads; region mode
    always): without this, every later test would run with theirs, and a test's numbers
    would depend on which tests ran before it."""
    before = torch.get_num_threads()
    yield
    if torch.get_num_threads() != before:
        torch.set_num_threads(before)


@pytest.fixture
def no_proxy(monkeypatch):
    """Requests to 127.0.0.1 (a test's server, chromedriver) go straight there: with a proxy
    in the environment (CI machines often have one), urllib and Selenium would send them to
    the proxy, and beyond this machine."""
    for var in ('HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'ALL_PROXY',
                'all_proxy'):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope='module')
def one_thread():
    """One intra-op thread for a module's tests (the test machine is shared: faster and the
    same every run); `pytestmark = pytest.mark.usefixtures('one_thread')`."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def load_script(path: str):
    """A script of the repository (e.g. 'tools/benchmark_scene.py', 'eval.py') as a module."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(path.replace('/', '_')[:-3], ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_launcher(cmd, timeout: float, **popen_kwargs):
    """`subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)` for torchrun
    and the dist_*.sh scripts (which exec it). torchrun starts its workers in sessions of
    their own, so the SIGKILL that subprocess.run sends at the timeout would leave them
    running into the next tests; SIGTERM makes torchrun stop them first."""
    import subprocess
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          **popen_kwargs) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_launcher(proc)
            raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def stop_launcher(proc) -> None:
    """Stop a torchrun (or dist_*.sh) process: SIGTERM, so that torchrun stops its workers
    (in sessions of their own) before it exits; SIGKILL after 60 s. Drains its pipes."""
    import subprocess
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()


def tiny_segmentor(classes, upsampler='jbu_one', **settings):
    """SegEarthSegmentation built through mmseg's MODELS with the fixture CLIP and upsampler."""
    import segearth_ov  # noqa: F401  (registers the segmentor)
    from mmseg.registry import MODELS
    feature_up = settings.pop('feature_up', True)
    cfg = dict(type='SegEarthSegmentation', classes=list(classes), clip_type='CLIP',
               vit_type='ViT-B/16', pretrained=str(TINY_PT), model_cfg=str(TINY_CFG),
               feature_up=feature_up, device=model_device(),
               feature_up_cfg=dict(model_name=upsampler, model_path=str(JBU_CKPT[upsampler])))
    cfg.update(settings)
    return MODELS.build(cfg)


def run_pipeline(model, rgb: np.ndarray):
    """Feed an RGB uint8 H×W×3 image as the eval pipeline would: BGR 3×H×W, ori_shape = shape."""
    from mmseg.structures import SegDataSample
    bgr = torch.from_numpy(np.ascontiguousarray(rgb[..., ::-1].transpose(2, 0, 1)))
    h, w = rgb.shape[:2]
    sample = SegDataSample(metainfo=dict(ori_shape=(h, w), img_shape=(h, w)))
    data = model.data_preprocessor(dict(inputs=[bgr], data_samples=[sample]), training=False)
    return model.predict(data['inputs'], data['data_samples'])[0]


def load_manifest(name='manifest.json', folder=GOLDEN):
    return json.loads((folder / name).read_text())
