# HG-RSOVSSeg: FLAIR #1 (paper §4.1). Data: python tools/dataset_converters/flair1.py --src /downloads/FLAIR1 --out data/FLAIR1
# (official train / test folders; codes 13..19 become background, which is ignored).
# `dataset_classes` lists the dataset's classes without background: mmseg maps the omitted
# class to 255 (ignored in loss and metric); `class_lines` are the names given to the text
# encoder, in the same order (synonyms comma-separated).
_base_ = '../hg_runtime.py'

hg_dataset = dict(name='flair1', title='FLAIR #1')
dataset_classes = ('building', 'pervious surface', 'impervious surface', 'bare soil', 'water', 'coniferous', 'deciduous', 'brushwood', 'vineyard', 'herbaceous vegetation', 'agricultural land', 'plowed land')
class_lines = ['building', 'pervious surface', 'impervious surface', 'bare soil', 'water', 'coniferous', 'deciduous', 'brushwood', 'vineyard', 'herbaceous vegetation', 'agricultural land', 'plowed land']
train_dataset = dict(type='FLAIR1Dataset', data_root='data/FLAIR1',
              data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
              metainfo=dict(classes=dataset_classes))
test_dataset = dict(type='FLAIR1Dataset', data_root='data/FLAIR1',
             data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
             metainfo=dict(classes=dataset_classes))

model = dict(classes=class_lines,
             test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(512, 512)))
train_dataloader = dict(dataset=train_dataset)
test_dataloader = dict(dataset=test_dataset)
