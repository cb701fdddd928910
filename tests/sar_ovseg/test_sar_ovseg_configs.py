"""The SAR-OVSeg configs parse, name registered types and agree with the taxonomy."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from conftest import ROOT

from segearth_ov.datasets.sar_ovseg import load_taxonomy

CONFIGS = sorted((ROOT / 'configs' / 'sar_ovseg').glob('*.py'))


@pytest.mark.parametrize('path', CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_parses_and_its_pipelines_build(path):
    from mmengine.utils import import_modules_from_strings
    from mmseg.registry import DATASETS, METRICS, TRANSFORMS
    cfg = Config.fromfile(str(path))
    import_modules_from_strings(**cfg.custom_imports)
    assert cfg.model.clip_type == 'AlignEarth'
    assert DATASETS.get(cfg.test_dataloader.dataset.type) is not None
    assert METRICS.get(cfg.test_evaluator.type) is not None
    for step in cfg.test_dataloader.dataset.get('pipeline') or []:
        TRANSFORMS.build(step)
    if 'train_dataloader' in cfg:
        names = [s['type'] for s in cfg.train_dataloader.dataset.pipeline]
        assert names[0] == 'LoadSARImageFromFile'
        assert {'RandomCrop', 'RandomFlip', 'RandomRotate90', 'RandomGainDB',
                'GammaSpeckle'} <= set(names)
        for step in cfg.train_dataloader.dataset.pipeline:
            TRANSFORMS.build(step)


def test_lodo_configs_cover_every_source_and_hold_it_out():
    tax = load_taxonomy()
    for key in tax.sources:
        cfg = Config.fromfile(str(ROOT / 'configs' / 'sar_ovseg' /
                                  f'sovs_alignearth_lodo_{key}.py'))
        assert cfg.sar_ovseg.held_out == key
        assert cfg.train_dataloader.dataset.ann_file == f'splits/lodo/{key}/train.txt'
        assert cfg.test_dataloader.dataset.ann_file == f'splits/lodo/{key}/test.txt'


def test_open_vocabulary_config_trains_on_the_seen_classes_only():
    tax = load_taxonomy()
    cfg = Config.fromfile(str(ROOT / 'configs' / 'sar_ovseg' / 'sovs_alignearth_openvocab.py'))
    seen = list(cfg.train_dataloader.dataset.metainfo.classes)
    unseen = list(cfg.sar_ovseg.unseen)
    assert sorted(seen + unseen) == sorted(tax.level2) and not set(seen) & set(unseen)
    assert len(cfg.model.classes) == len(seen)
    assert list(cfg.test_evaluator.unseen) == unseen
    prompts = dict(zip(tax.level2, tax.prompts[2]))
    assert cfg.model.classes == [prompts[n] for n in seen]
