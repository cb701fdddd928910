# HG-RSOVSSeg: OpenEarthMap (paper §4.1). Data: python tools/dataset_converters/openearthmap.py --src /downloads/OpenEarthMap --out data/OpenEarthMap_train --split-file train.txt
# and --out data/OpenEarthMap_val (val.txt); the paper's class names; background is ignored.
# `dataset_classes` lists the dataset's classes without background: mmseg maps the omitted
# class to 255 (ignored in loss and metric); `class_lines` are the names given to the text
# encoder, in the same order (synonyms comma-separated).
_base_ = '../hg_runtime.py'

hg_dataset = dict(name='openearthmap', title='OpenEarthMap')
dataset_classes = ('bareland', 'grass', 'pavement', 'road', 'tree', 'water', 'cropland', 'building')
class_lines = ['bareland', 'rangeland', 'developed space', 'road', 'tree', 'water', 'agriculture land', 'building']
train_dataset = dict(type='OpenEarthMapDataset', data_root='data/OpenEarthMap_train',
              data_prefix=dict(img_path='images', seg_map_path='labels'),
              metainfo=dict(classes=dataset_classes))
test_dataset = dict(type='OpenEarthMapDataset', data_root='data/OpenEarthMap_val',
             data_prefix=dict(img_path='images', seg_map_path='labels'),
             metainfo=dict(classes=dataset_classes))

model = dict(classes=class_lines,
             test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(512, 512)))
train_dataloader = dict(dataset=train_dataset)
test_dataloader = dict(dataset=test_dataset)
