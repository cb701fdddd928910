"""Test helpers: synthetic mini datasets in a config's on-disk layout; fixture-model overrides.

(A module, not a second conftest.py: a second rootless conftest.py would replace the
`conftest` module that tests/models import helpers from.)
"""
from __future__ import annotations

import inspect
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from conftest import JBU_CKPT, TINY_CFG, TINY_PT

CONFIGS = Path(__file__).resolve().parents[1] / 'configs'
SIZE = (48, 64)          # H, W of the synthetic images


def dataset_facts(ds_cfg) -> dict:
    """img/label suffixes, reduce_zero_label and classes of a config's dataset (config values
    first, then the dataset class's defaults)."""
    import segearth_ov  # noqa: F401
    from mmseg.registry import DATASETS
    cls = DATASETS.get(ds_cfg.type)
    defaults = {}
    for klass in reversed(cls.__mro__):   # BaseSegDataset's defaults, then the subclass's
        if '__init__' in vars(klass):
            defaults.update({k: p.default for k, p in
                             inspect.signature(klass.__init__).parameters.items()
                             if p.default is not inspect.Parameter.empty})
    facts = {k: ds_cfg.get(k, defaults.get(k)) for k in
             ('img_suffix', 'seg_map_suffix', 'reduce_zero_label', 'ignore_index')}
    facts['classes'] = cls.METAINFO.get('classes')
    return facts


def synthetic_image(i: int, bands: int = 3, dtype=np.uint8) -> np.ndarray:
    h, w = SIZE
    y, x = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(i)
    planes = [((x * (3 + c) + y * (2 + i) + 40 * c) % 256) for c in range(bands)]
    img = np.stack(planes, -1).astype(np.float64) + rng.normal(0, 8, (h, w, bands))
    if dtype == np.uint16:
        return np.clip(img * 200, 0, 65535).astype(np.uint16)
    return np.clip(img, 0, 255).astype(np.uint8)


def synthetic_label(i: int, n_classes: int, reduce_zero_label: bool) -> np.ndarray:
    """Blocks of every class; a strip of 255 (ignored); with reduce_zero_label values 1..n
    and a strip of 0 (ignored after the reduction)."""
    h, w = SIZE
    cols = np.arange(w) * n_classes // w
    label = np.broadcast_to((cols + i) % n_classes, (h, w)).astype(np.uint8).copy()
    if reduce_zero_label:
        label += 1
        label[:, :3] = 0
    label[:2] = 255
    return label


def write(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ext = path.suffix.lower()
    ok, buf = cv2.imencode('.jpg' if ext == '.jpeg' else ext, array)
    assert ok, path
    buf.tofile(str(path))   # works for upper-case suffixes (.JPG) and any path


def make_synthetic_dataset(cfg, base: Path, sar_16bit: bool = False, count: int = 2) -> dict:
    """Write `count` images + labels (+ split list) under `base` in the config's layout.

    The config's relative paths stay as they are: run it with `base` as the working
    directory (data/… then resolves there, and short paths keep mmengine's config dump
    fast). A split list shipped with the code (wbs-si) is written into the data folder and
    the config pointed at it. Returns the dataset facts (suffixes, classes, …).
    """
    ds = cfg.test_dataloader.dataset
    facts = dataset_facts(ds)
    root = base / ds.data_root
    if ds.get('classes_file'):   # the custom config: its classes come from the data folder
        classes_file = root / ds.classes_file
        classes_file.parent.mkdir(parents=True, exist_ok=True)
        classes_file.write_text('background\nbuilding,roof\nwater\n')
        cfg.model.name_path = os.path.join(ds.data_root, ds.classes_file)
        facts['classes'] = ('background', 'building', 'water')
    n = len(facts['classes'])
    sar = ds.pipeline[0]['type'] == 'LoadSARImageFromFile'
    names = [f'tile_{i}' for i in range(count)]
    for i, name in enumerate(names):
        if sar and sar_16bit:
            img = synthetic_image(i, bands=1, dtype=np.uint16)
        else:
            img = synthetic_image(i, bands=1 if sar else 3)
        write(root / ds.data_prefix.img_path / f'{name}{facts["img_suffix"]}', img)
        write(root / ds.data_prefix.seg_map_path / f'{name}{facts["seg_map_suffix"]}',
              synthetic_label(i, n, facts['reduce_zero_label']))
    if ds.get('ann_file'):
        if os.path.isabs(ds.ann_file):
            ds.ann_file = Path(ds.ann_file).name
        ann = root / ds.ann_file
        ann.parent.mkdir(parents=True, exist_ok=True)
        ann.write_text('\n'.join(names) + '\n')
    return facts


@pytest.fixture
def cpu_only(monkeypatch):
    """`torch.cuda.is_available()` says False, for the code that asks it (dist_test.sh's
    choice of gloo, a model's default device). It does not move mmengine's Runner, whose
    `get_device()` is fixed when mmengine is imported: eval.py's runner keeps the fixture
    model on the CPU because FIXTURE_MODEL says `model.device=cpu`.
    Use with `pytestmark = pytest.mark.usefixtures('cpu_only')` after importing it."""
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)


FIXTURE_MODEL = {'model.pretrained': str(TINY_PT), 'model.model_cfg': str(TINY_CFG),
                 'model.device': 'cpu',
                 'model.feature_up_cfg.model_path': str(JBU_CKPT['jbu_one'])}


def use_fixture_model(cfg, scale: int = 64) -> None:
    """The tiny seeded CLIP + JBU_One on CPU, a small resize, no worker processes, work dir
    `work` (relative to the working directory)."""
    cfg.merge_from_dict(FIXTURE_MODEL)
    for step in cfg.test_dataloader.dataset.pipeline:
        if step['type'] == 'Resize':
            step['scale'] = (scale, scale)
    cfg.test_dataloader.update(num_workers=0, persistent_workers=False)
    cfg.work_dir = 'work'
    cfg.default_hooks.logger.interval = 1


def cli_options(cfg, scale: int = 64) -> list[str]:
    """The same overrides as `--cfg-options` arguments for eval.py / eval_all.py."""
    index = [i for i, s in enumerate(cfg.test_dataloader.dataset.pipeline)
             if s['type'] == 'Resize'][0]
    opts = [f'{k}={v}' for k, v in FIXTURE_MODEL.items()]
    return opts + ['test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
                   f'test_dataloader.dataset.pipeline.{index}.scale=({scale},{scale})']


def config_names() -> list[str]:
    return sorted(p.stem[4:] for p in CONFIGS.glob('cfg_*.py'))
