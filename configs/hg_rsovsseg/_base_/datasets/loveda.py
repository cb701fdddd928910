# HG-RSOVSSeg: LoveDA (paper §4.1). Data: mmseg layout (python tools/dataset_converters/loveda.py ...); 1024² images, slide
# inference in 512² windows; background is ignored.
# `dataset_classes` lists the dataset's classes without background: mmseg maps the omitted
# class to 255 (ignored in loss and metric); `class_lines` are the names given to the text
# encoder, in the same order (synonyms comma-separated).
_base_ = '../hg_runtime.py'

hg_dataset = dict(name='loveda', title='LoveDA')
dataset_classes = ('building', 'road', 'water', 'barren', 'forest', 'agricultural')
class_lines = ['building', 'road', 'water', 'barren', 'forest', 'agriculture']
train_dataset = dict(type='LoveDADataset', data_root='data/LoveDA',
              data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
              metainfo=dict(classes=dataset_classes))
test_dataset = dict(type='LoveDADataset', data_root='data/LoveDA',
             data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
             metainfo=dict(classes=dataset_classes))

model = dict(classes=class_lines,
             test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(512, 512)))
train_dataloader = dict(dataset=train_dataset)
test_dataloader = dict(dataset=test_dataset)
