"""The dataset classes of the benchmark, defined from one table.

Each row of `DATASETS_TABLE` becomes a `BaseSegDataset` subclass registered in mmseg's
`DATASETS` under the row's name, so a config says `type='UDD5Dataset'` and gets the classes,
palette, file suffixes, label handling and ignore index of that row. Datasets that
mmsegmentation already ships (`LoveDADataset`, `iSAIDDataset`, `PotsdamDataset`,
`ISPRSDataset`) are not repeated here: configs use mmseg's classes directly.

Labels are single-band class-index images (the converters write them). `reduce_zero_label`
means value 0 is "no label" (ignored) and value k is class k-1. Split-list files
(`ann_file`, one image name without suffix per line) work as in any mmseg dataset.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from ..models.text import load_class_names
from ..utils.advice import how_to_set
from ..visualization import class_colours

BLACK, WHITE = (0, 0, 0), (255, 255, 255)


@dataclass(frozen=True)
class DatasetRow:
    name: str                                   # registry name (the config's `type`)
    classes: tuple[str, ...]                    # label classes, in label-value order
    palette: tuple[tuple[int, int, int], ...]   # RGB colour per class (visualisation)
    img_suffix: str
    seg_map_suffix: str
    reduce_zero_label: bool = False
    ignore_index: int = 255


R = DatasetRow
DATASETS_TABLE: tuple[DatasetRow, ...] = (
    # optical, multi-class
    R('OpenEarthMapDataset',
      ('background', 'bareland', 'grass', 'pavement', 'road', 'tree', 'water', 'cropland',
       'building'),
      (BLACK, (128, 0, 0), (0, 255, 36), (148, 148, 148), WHITE, (34, 97, 38), (0, 69, 255),
       (75, 181, 73), (222, 31, 7)),
      '.tif', '.tif'),
    R('UAVidDataset',
      ('background', 'building', 'road', 'car', 'tree', 'vegetation', 'human'),
      (BLACK, (128, 0, 0), (128, 64, 128), (192, 0, 192), (0, 128, 0), (128, 128, 0),
       (64, 64, 0)),
      '.png', '.png'),
    R('UDD5Dataset',
      ('vegetation', 'building', 'road', 'vehicle', 'other'),
      ((107, 142, 35), (102, 102, 156), (128, 64, 128), (0, 0, 142), BLACK),
      '.JPG', '.png'),
    R('VDDDataset',
      ('other', 'wall', 'road', 'vegetation', 'vehicle', 'roof', 'water'),
      (BLACK, (102, 102, 156), (128, 64, 128), (107, 142, 35), (0, 0, 142), (70, 70, 70),
       (0, 0, 255)),
      '.JPG', '.png'),
    # optical, single class (foreground = label 1)
    R('WHUDataset', ('background', 'building'), (BLACK, WHITE), '.png', '.png'),
    R('InriaDataset', ('background', 'building'), (BLACK, WHITE), '.png', '.png'),
    R('xBDDataset', ('background', 'building'), (BLACK, WHITE), '.png', '.png'),
    R('CHN6_CUGDataset', ('background', 'road'), (BLACK, WHITE), '.jpg', '.png'),
    R('RoadValDataset', ('background', 'road'), (BLACK, WHITE), '.jpg', '.png'),
    R('WaterDataset', ('background', 'water'), (BLACK, WHITE), '.jpg', '.jpg'),
    # SAR
    R('DDHR_Korea_SARDataset', ('building', 'road', 'greenery', 'water', 'farmland'),
      ((255, 0, 0), (255, 255, 0), (0, 255, 0), (0, 0, 255), (255, 195, 128)),
      '.jpg', '.png'),
    R('DDHR_Shandong_SARDataset', ('farmland', 'greenery', 'road', 'building', 'water'),
      ((255, 195, 128), (0, 255, 0), (255, 255, 0), (255, 0, 0), (0, 0, 255)),
      '.jpg', '.png'),
    R('DDHR_Xian_SARDataset', ('building', 'road', 'farmland', 'greenery', 'water'),
      ((255, 0, 0), (255, 255, 0), (255, 195, 128), (0, 255, 0), (0, 0, 255)),
      '.jpg', '.png'),
    R('FUSARDataset', ('background', 'water', 'road', 'building', 'vegetation'),
      (BLACK, (0, 0, 255), WHITE, (255, 0, 0), (0, 255, 0)),
      '.tif', '.png'),
    R('PIESARDataset', ('background', 'city', 'road', 'water', 'forest', 'farmland'),
      (BLACK, (255, 0, 0), (255, 255, 0), (0, 0, 255), (0, 128, 0), (255, 195, 128)),
      '.tif', '.tif'),
    R('WHUSARDataset',
      ('farmland', 'city', 'village', 'water', 'forest', 'road', 'background'),
      ((204, 102, 0), (255, 0, 0), (255, 255, 0), (0, 0, 255), (85, 167, 0), (0, 255, 255),
       (153, 102, 153)),
      '.tif', '.tif', reduce_zero_label=True),
    R('YESegSARDataset', ('bareground', 'grass', 'tree', 'house', 'water', 'road'),
      ((159, 129, 183), (0, 255, 0), (0, 128, 0), (255, 0, 0), (0, 0, 255), (255, 255, 0)),
      '.png', '.png'),
    R('HRSIDDataset', ('background', 'ship'), (BLACK, WHITE), '.jpg', '.png'),
)

# Training/test sets of HG-RSOVSSeg (configs/hg_rsovsseg/; converters in
# tools/dataset_converters/hg_sets.py; label 0 = background). Registered like the rows above,
# kept apart because no training-free benchmark config (configs/cfg_*.py) reads them.
HG_DATASETS_TABLE: tuple[DatasetRow, ...] = (
    R('Globe230kDataset',
      ('background', 'cropland', 'forest', 'grass', 'shrubland', 'wetland', 'water', 'tundra',
       'impervious', 'bareland', 'ice'),
      (BLACK, (250, 230, 100), (30, 120, 30), (140, 210, 80), (160, 140, 60), (60, 180, 200),
       (0, 70, 230), (190, 190, 150), (220, 40, 40), (200, 160, 120), WHITE),
      '.png', '.png'),
    R('GIDLargeDataset', ('background', 'built-up', 'farmland', 'forest', 'meadow', 'water'),
      (BLACK, (255, 0, 0), (0, 255, 0), (0, 255, 255), (255, 255, 0), (0, 0, 255)),
      '.png', '.png'),
    R('FLAIR1Dataset',
      ('background', 'building', 'pervious surface', 'impervious surface', 'bare soil', 'water',
       'coniferous', 'deciduous', 'brushwood', 'vineyard', 'herbaceous vegetation',
       'agricultural land', 'plowed land'),
      (BLACK, (219, 14, 154), (147, 142, 123), (248, 12, 0), (169, 113, 1), (21, 83, 174),
       (25, 74, 38), (70, 228, 131), (243, 166, 13), (102, 0, 130), (85, 255, 0),
       (255, 243, 13), (228, 223, 124)),
      '.png', '.png'),
    R('LandCoverAIDataset', ('background', 'building', 'woodland', 'water', 'road'),
      (BLACK, (220, 40, 40), (30, 120, 30), (0, 70, 230), WHITE),
      '.png', '.png'),
)
del R

# Datasets mmsegmentation ships; configs name these classes directly.
MMSEG_DATASETS = ('LoveDADataset', 'iSAIDDataset', 'PotsdamDataset', 'ISPRSDataset')


def make_dataset_class(row: DatasetRow) -> type:
    """A BaseSegDataset subclass with the row's metainfo and defaults (overridable by config)."""

    def __init__(self, img_suffix=row.img_suffix, seg_map_suffix=row.seg_map_suffix,
                 reduce_zero_label=row.reduce_zero_label, ignore_index=row.ignore_index,
                 **kwargs):
        BaseSegDataset.__init__(self, img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                                reduce_zero_label=reduce_zero_label,
                                ignore_index=ignore_index, **kwargs)
        self._metainfo['ignore_index'] = ignore_index   # read by SegEarthIoUMetric

    doc = (f'{row.name}: classes {", ".join(row.classes)}; images *{row.img_suffix}, labels '
           f'*{row.seg_map_suffix}' + (', reduce_zero_label' if row.reduce_zero_label else '') +
           f'; ignore index {row.ignore_index}. Generated from segearth_ov.datasets.table.')
    return type(row.name, (BaseSegDataset,), {
        'METAINFO': dict(classes=row.classes, palette=[list(c) for c in row.palette]),
        '__init__': __init__,
        '__doc__': doc,
        '__module__': __name__,
    })


def _register_all() -> dict[str, type]:
    classes = {}
    for row in DATASETS_TABLE + HG_DATASETS_TABLE:
        assert len(row.classes) == len(row.palette), f'{row.name}: one colour per class'
        cls = make_dataset_class(row)
        # force=True: re-importing this module (e.g. importlib.reload) must not fail.
        DATASETS.register_module(name=row.name, module=cls, force=True)
        classes[row.name] = cls
    return classes


DATASET_CLASSES: dict[str, type] = _register_all()


@DATASETS.register_module()
class CustomSegDataset(BaseSegDataset):
    """Your own dataset without code: the classes come from a class-name file.

    `classes_file` (relative to `data_root` unless absolute) has one class per line in label
    order, synonyms comma-separated (the segmentor's `name_path` format); the first name of
    each line is the class name in the metrics.
    Suffixes, `reduce_zero_label` and `ignore_index` are the usual BaseSegDataset arguments.
    """

    def __init__(self, classes_file, img_suffix='.png', seg_map_suffix='.png',
                 reduce_zero_label=False, ignore_index=255, metainfo=None, **kwargs):
        data_root = kwargs.get('data_root')
        if data_root and not os.path.isabs(classes_file):
            classes_file = os.path.join(data_root, classes_file)   # like ann_file
        lines = load_class_names(classes_file)
        metainfo = {'classes': tuple(lines.names),
                    'palette': class_colours(lines.classes).tolist(),
                    **(metainfo or {})}
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, ignore_index=ignore_index,
                         metainfo=metainfo, **kwargs)
        self._metainfo['ignore_index'] = ignore_index

    def load_data_list(self) -> list[dict]:
        """mmseg's list, refused when empty: no image with `img_suffix` (e.g. .tif images and
        the default .png) would otherwise end in numpy's "need at least one array to
        concatenate"."""
        data_list = super().load_data_list()
        if not data_list:
            raise NoImagesError(no_images_message(self))
        return data_list


class NoImagesError(ValueError):
    """A dataset whose image folder (or split list) gives no image."""


def no_images_message(dataset) -> str:
    """Why `dataset` (a BaseSegDataset) lists no image, and how to fix it in this tool."""
    if dataset.ann_file:
        return f'the split list {dataset.ann_file} names no image'
    folder = dataset.data_prefix.get('img_path', '')
    suffixes = Counter(os.path.splitext(name)[1]
                       for _, _, names in os.walk(folder) for name in names
                       if not name.startswith('.'))
    if not suffixes:
        return f'no images in {folder} (the folder is empty)'
    common = suffixes.most_common(1)[0][0]
    held = ', '.join(f'{n} {suffix or "without suffix"}' for suffix, n in suffixes.most_common(3))
    return (f'no images ending in {dataset.img_suffix!r} in {folder} (it holds {held} files): '
            f'set the image suffix, {how_to_set("img_suffix", suffix=common)} '
            '(labels: seg_map_suffix, the same way)')
