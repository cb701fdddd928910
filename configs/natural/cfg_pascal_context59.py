_base_ = '../base_config.py'

# PASCAL Context, 59 classes (val, 5,105 images): SegEarth-OV Table 8, natural images.
# mmseg's PascalContextDataset59 and its layout (mmseg's pascal_context converter); class
# names are mmseg's. Protocol of the numbers the paper cites (SCLIP / ClearCLIP): short
# side resized to 336, slide inference 224 / 112, no background class (label 0 ignored by
# reduce_zero_label), no threshold.
model = dict(name_path='{{fileDirname}}/cls_pascal_context59.txt', prob_thd=0.0)

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 336), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    dataset=dict(
        type='PascalContextDataset59',
        data_root='data/VOCdevkit/VOC2010',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext'),
        ann_file='ImageSets/SegmentationContext/val.txt',
        pipeline=test_pipeline))
