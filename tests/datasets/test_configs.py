"""Every dataset config: its facts match docs/datasets.md, and it evaluates end to end on a
synthetic mini dataset written in its exact on-disk layout (fixture model, CPU)."""
from __future__ import annotations

import ast
import math
import os
import re

import pytest
from conftest import DATA
from synthetic_data import cpu_only  # noqa: F401  (fixture)
from synthetic_data import (CONFIGS, config_names, dataset_facts, make_synthetic_dataset,
                            use_fixture_model)

from segearth_ov.evaluation.run import evaluate, load_config

pytestmark = pytest.mark.usefixtures('cpu_only')

DATASETS_MD = DATA / 'reference' / 'datasets.md'
# HRSID is described in the notes below the table, not in it
HRSID = dict(config='hrsid', dataset='HRSIDDataset', classes=('background', 'ship'),
             prompts=['background', 'ship,boat'], settings={'prob_thd': 0.6, 'slide_crop': 0},
             resize=448, images='HRSID/HRSID_JPG/JPEGImages', labels='HRSID/HRSID_JPG/label/test',
             split='HRSID/HRSID_JPG/label/test.txt', suffixes=None, label_notes='')


def parse_table() -> dict[str, dict]:
    """The rows of the table in tests/data/reference/datasets.md, by config name."""
    rows = {}
    for line in DATASETS_MD.read_text(encoding='utf-8').splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) != 6 or cells[0] in ('config', '---'):
            continue
        name, dataset, labels, prompts, settings, layout = cells
        m = re.match(r'(\w+) \((.*)\)', dataset)
        entry = dict(config=name, dataset=m.group(1),
                     classes=None if m.group(2) == 'mmseg' else
                     tuple(c.strip() for c in m.group(2).split(',')),
                     prompts=[p.strip() for p in prompts.split(' / ')],
                     settings={}, resize=None, label_notes=labels)
        for item in (s.strip() for s in settings.split(';')):
            if item.startswith('resize long side'):
                entry['resize'] = int(item.split()[-1])
            else:
                key, value = item.split('=')
                entry['settings'][key.strip()] = ast.literal_eval(value.strip())
        paths = [p.strip() for p in layout.split(';')]
        entry.update(images=paths[0], labels=paths[1], split=paths[2] if len(paths) > 2 else None)
        sfx = re.findall(r"'([^']+)'", labels)
        entry['suffixes'] = tuple(sfx) if len(sfx) == 2 else None
        rows[name] = entry
    rows['hrsid'] = HRSID
    return rows


TABLE = parse_table()
BENCHMARK_CONFIGS = sorted(TABLE)


def test_every_table_row_has_a_config_and_every_config_is_tested():
    assert len(TABLE) == 26, sorted(TABLE)   # 25 in the paper + HRSID
    assert set(config_names()) == set(TABLE) | {'custom'}


def _norm(*parts) -> str:
    return os.path.normpath(os.path.join(*parts))


@pytest.mark.parametrize('name', BENCHMARK_CONFIGS)
def test_config_matches_datasets_md(name):
    row = TABLE[name]
    cfg = load_config(str(CONFIGS / f'cfg_{name}.py'))
    ds, model = cfg.test_dataloader.dataset, cfg.model
    # class-name file: exactly the prompt lines
    lines = open(model.name_path, encoding='utf-8').read().splitlines()
    assert lines == row['prompts']
    # dataset class and its label classes
    assert ds.type == row['dataset']
    facts = dataset_facts(ds)
    if row['classes'] is not None:
        assert tuple(facts['classes']) == row['classes']
    assert len(facts['classes']) == len(lines)
    if row['suffixes']:
        assert (facts['img_suffix'], facts['seg_map_suffix']) == row['suffixes']
    assert facts['reduce_zero_label'] == ('reduce_zero_label' in row['label_notes'] or
                                          row['dataset'] in ('LoveDADataset', 'PotsdamDataset',
                                                             'ISPRSDataset'))
    if 'ignore 255' in row['label_notes']:
        assert facts['ignore_index'] == 255
    # per-dataset settings; everything else at the base values
    for key, value in row['settings'].items():
        assert model[key] == value, key
    base = load_config(str(CONFIGS / 'base_config.py')).model
    for key in ('clip_type', 'model_type', 'ssa_last_n_layers', 'slide_crop', 'bg_idx',
                'cls_token_lambda', 'prob_thd', 'feature_up'):
        if key not in row['settings']:
            assert model[key] == base[key], key
    sizes = [s['scale'] for s in ds.pipeline if s['type'] == 'Resize']
    assert sizes == [(row['resize'], row['resize'])]
    assert all(s.get('keep_ratio') for s in ds.pipeline if s['type'] == 'Resize')
    sar = model.clip_type == 'AlignEarth'
    assert ds.pipeline[0]['type'] == ('LoadSARImageFromFile' if sar or name == 'hrsid'
                                      else 'LoadImageFromFile')
    # layout: relative paths under data/
    assert ds.data_root.startswith('data/')
    assert _norm(ds.data_root, ds.data_prefix.img_path) == _norm('data', row['images'])
    assert _norm(ds.data_root, ds.data_prefix.seg_map_path) == _norm('data', row['labels'])
    if row['split'] is None:
        assert not ds.get('ann_file')
    elif row['split'].startswith('tools/'):   # a split list shipped with the code
        assert _norm(ds.ann_file) == _norm(str(CONFIGS.parent), row['split'])
    else:
        assert _norm(ds.data_root, ds.ann_file) == _norm('data', row['split'])


def test_sar_configs_use_the_alignearth_preset():
    sar = [n for n, r in TABLE.items() if r['settings'].get('clip_type') == 'AlignEarth']
    assert len(sar) == 8
    for name in sar:
        model = load_config(str(CONFIGS / f'cfg_{name}.py')).model
        assert (model.clip_type, model.model_type, model.ssa_last_n_layers) == \
            ('AlignEarth', 'SCLIP', 2)


def test_backbone_and_attention_can_be_changed_from_the_command_line():
    cfg = load_config(str(CONFIGS / 'cfg_loveda.py'), {
        'model.clip_type': 'GeoRSCLIP', 'model.vit_type': 'ViT-B/32',
        'model.model_type': 'ClearCLIP', 'model.pretrained': 'checkpoints/x.pt'})
    assert (cfg.model.clip_type, cfg.model.vit_type, cfg.model.model_type,
            cfg.model.pretrained) == ('GeoRSCLIP', 'ViT-B/32', 'ClearCLIP', 'checkpoints/x.pt')
    assert cfg.model.prob_thd == 0.3   # the dataset's own settings stay


@pytest.mark.parametrize('name', config_names())
def test_config_evaluates_end_to_end(name, tmp_path, monkeypatch):
    config = str(CONFIGS / f'cfg_{name}.py')
    cfg = load_config(config)
    monkeypatch.chdir(tmp_path)   # the config's data/… paths resolve in tmp_path
    # SAR .tif sets get 16-bit single-band images (the conversion path); other SAR sets get
    # 8-bit single-band files, as released
    tif = dataset_facts(cfg.test_dataloader.dataset)['img_suffix'] == '.tif'
    make_synthetic_dataset(cfg, tmp_path, sar_16bit=tif)
    use_fixture_model(cfg)
    metrics, row, written = evaluate(cfg, config, results=None)
    assert written is None
    assert row['images'] == 2
    assert math.isfinite(metrics['mIoU']) and 0 <= metrics['mIoU'] <= 100
    assert math.isfinite(row['score'])
    assert (tmp_path / 'work' / 'results.txt').is_file()
