# HG-RSOVSSeg: LandCover.ai (paper §4.1). Data: python tools/dataset_converters/landcover_ai.py --src /downloads/landcover.ai --out data/LandCoverAI
# (official 512² tiles and split lists); background is ignored.
# `dataset_classes` lists the dataset's classes without background: mmseg maps the omitted
# class to 255 (ignored in loss and metric); `class_lines` are the names given to the text
# encoder, in the same order (synonyms comma-separated).
_base_ = '../hg_runtime.py'

hg_dataset = dict(name='landcover_ai', title='LandCover.ai')
dataset_classes = ('building', 'woodland', 'water', 'road')
class_lines = ['buildings', 'woodlands', 'water', 'roads']
train_dataset = dict(type='LandCoverAIDataset', data_root='data/LandCoverAI',
              data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
              metainfo=dict(classes=dataset_classes))
test_dataset = dict(type='LandCoverAIDataset', data_root='data/LandCoverAI',
             data_prefix=dict(img_path='img_dir/test', seg_map_path='ann_dir/test'),
             metainfo=dict(classes=dataset_classes))

model = dict(classes=class_lines,
             test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(512, 512)))
train_dataloader = dict(dataset=train_dataset)
test_dataloader = dict(dataset=test_dataset)
