# HG-RSOVSSeg: GID Large (paper §4.1). Data: python tools/dataset_converters/gid_large.py --src /downloads/GID --out data/GID_Large
# (512² tiles, 120 training / 30 validation scenes); background is ignored.
# `dataset_classes` lists the dataset's classes without background: mmseg maps the omitted
# class to 255 (ignored in loss and metric); `class_lines` are the names given to the text
# encoder, in the same order (synonyms comma-separated).
_base_ = '../hg_runtime.py'

hg_dataset = dict(name='gid_large', title='GID Large')
dataset_classes = ('built-up', 'farmland', 'forest', 'meadow', 'water')
class_lines = ['built up', 'farmland', 'forest', 'meadow', 'water']
train_dataset = dict(type='GIDLargeDataset', data_root='data/GID_Large',
              data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
              metainfo=dict(classes=dataset_classes))
test_dataset = dict(type='GIDLargeDataset', data_root='data/GID_Large',
             data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
             metainfo=dict(classes=dataset_classes))

model = dict(classes=class_lines,
             test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(512, 512)))
train_dataloader = dict(dataset=train_dataset)
test_dataloader = dict(dataset=test_dataset)
