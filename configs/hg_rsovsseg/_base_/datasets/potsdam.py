# HG-RSOVSSeg: Potsdam (paper §4.1). Data: 512² tiles with 128 overlap, the paper's 24 training scenes (mmseg's split):
#   python tools/dataset_converters/potsdam.py /downloads/potsdam -o data/potsdam_hg --stride_size 384
# clutter (background) is ignored.
# `dataset_classes` lists the dataset's classes without background: mmseg maps the omitted
# class to 255 (ignored in loss and metric); `class_lines` are the names given to the text
# encoder, in the same order (synonyms comma-separated).
_base_ = '../hg_runtime.py'

hg_dataset = dict(name='potsdam', title='Potsdam')
dataset_classes = ('impervious_surface', 'building', 'low_vegetation', 'tree', 'car')
class_lines = ['impervious surfaces', 'building', 'low vegetation', 'tree', 'car']
train_dataset = dict(type='PotsdamDataset', data_root='data/potsdam_hg',
              data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
              metainfo=dict(classes=dataset_classes))
test_dataset = dict(type='PotsdamDataset', data_root='data/potsdam_hg',
             data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
             metainfo=dict(classes=dataset_classes))

model = dict(classes=class_lines,
             test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(512, 512)))
train_dataloader = dict(dataset=train_dataset)
test_dataloader = dict(dataset=test_dataset)
