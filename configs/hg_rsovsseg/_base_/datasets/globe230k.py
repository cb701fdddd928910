# HG-RSOVSSeg: Globe230k (paper §4.1). Data: python tools/dataset_converters/globe230k.py --src /downloads/Globe230k --out data/Globe230k
# (the release's own split lists); background is ignored.
# `dataset_classes` lists the dataset's classes without background: mmseg maps the omitted
# class to 255 (ignored in loss and metric); `class_lines` are the names given to the text
# encoder, in the same order (synonyms comma-separated).
_base_ = '../hg_runtime.py'

hg_dataset = dict(name='globe230k', title='Globe230k')
dataset_classes = ('cropland', 'forest', 'grass', 'shrubland', 'wetland', 'water', 'tundra', 'impervious', 'bareland', 'ice')
class_lines = ['cropland', 'forest', 'grass', 'shrubland', 'wetland', 'water', 'tundra', 'impervious', 'bareland', 'ice']
train_dataset = dict(type='Globe230kDataset', data_root='data/Globe230k',
              data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
              metainfo=dict(classes=dataset_classes))
test_dataset = dict(type='Globe230kDataset', data_root='data/Globe230k',
             data_prefix=dict(img_path='img_dir/test', seg_map_path='ann_dir/test'),
             metainfo=dict(classes=dataset_classes))

model = dict(classes=class_lines,
             test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(512, 512)))
train_dataloader = dict(dataset=train_dataset)
test_dataloader = dict(dataset=test_dataset)
