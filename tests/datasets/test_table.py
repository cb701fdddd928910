"""The dataset table: one registered class per row, mmseg's own classes where it has them."""
from __future__ import annotations

import os

import pytest
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS
from synthetic_data import CONFIGS, synthetic_label, write

import segearth_ov  # noqa: F401
from segearth_ov.datasets import DATASET_CLASSES, DATASETS_TABLE, MMSEG_DATASETS
from segearth_ov.evaluation.run import load_config


@pytest.mark.parametrize('row', DATASETS_TABLE, ids=lambda r: r.name)
def test_each_row_is_a_registered_dataset_class(row):
    cls = DATASETS.get(row.name)
    assert cls is DATASET_CLASSES[row.name]
    assert cls.__name__ == row.name
    assert tuple(cls.METAINFO['classes']) == row.classes
    assert len(cls.METAINFO['palette']) == len(row.classes)


def test_one_row_per_name_and_no_row_for_mmseg_datasets():
    names = [r.name for r in DATASETS_TABLE]
    assert len(names) == len(set(names))
    assert not set(names) & set(MMSEG_DATASETS)
    for name in MMSEG_DATASETS:
        assert DATASETS.get(name).__module__.startswith('mmseg.')


def test_every_config_uses_a_registered_class_and_shared_classes_are_shared():
    types = {p.stem: load_config(str(p)).test_dataloader.dataset.type
             for p in CONFIGS.glob('cfg_*.py')}
    for t in types.values():
        assert DATASETS.get(t) is not None, t
    used = set(types.values())
    assert {r.name for r in DATASETS_TABLE} <= used   # no unused rows
    assert sorted(k for k, t in types.items() if t == 'RoadValDataset') == [
        'cfg_deepglobe_road', 'cfg_massachusetts_road', 'cfg_spacenet_road']
    assert sorted(k for k, t in types.items() if t == 'OpenEarthMapDataset') == [
        'cfg_openearthmap', 'cfg_openearthmap_sar']


def _tiny_dataset(tmp_path, type_, n_classes, reduce_zero_label=False, **kwargs):
    for i, name in enumerate(('b', 'a')):
        write(tmp_path / 'img' / f'{name}.png', synthetic_label(i, 3, False))
        write(tmp_path / 'ann' / f'{name}.png', synthetic_label(i, n_classes, reduce_zero_label))
    init_default_scope('mmseg')
    return DATASETS.build(dict(type=type_, data_root=str(tmp_path),
                               data_prefix=dict(img_path='img', seg_map_path='ann'),
                               img_suffix='.png', seg_map_suffix='.png',
                               pipeline=[dict(type='LoadAnnotations')], **kwargs))


def image_names(ds):
    return [os.path.basename(ds.get_data_info(i)['img_path']) for i in range(len(ds))]


def test_row_defaults_can_be_overridden_and_ignore_index_reaches_the_metainfo(tmp_path):
    ds = _tiny_dataset(tmp_path, 'WHUSARDataset', 7, reduce_zero_label=True, ignore_index=254)
    assert ds.reduce_zero_label and ds.metainfo['ignore_index'] == 254
    assert image_names(ds) == ['a.png', 'b.png']   # sorted
    gt = ds[0]['gt_seg_map']
    assert gt.max() == 255 and set(range(7)) <= set(gt.ravel().tolist()) | {255}


def test_split_list_selects_images(tmp_path):
    (tmp_path / 'split.txt').write_text('b\n')
    ds = _tiny_dataset(tmp_path, 'UDD5Dataset', 5, ann_file='split.txt')
    assert image_names(ds) == ['b.png']


def test_custom_dataset_reads_its_classes_from_the_class_file(tmp_path):
    (tmp_path / 'classes.txt').write_text('background\nbuilding,roof,house\nroad\n')
    ds = _tiny_dataset(tmp_path, 'CustomSegDataset', 3, classes_file='classes.txt',
                       ignore_index=0)
    assert ds.metainfo['classes'] == ('background', 'building', 'road')
    assert len(ds.metainfo['palette']) == 3 and ds.metainfo['ignore_index'] == 0
