_base_ = '../base_config.py'

# Cityscapes, 19 classes (val, 500 images): SegEarth-OV Table 8, natural images.
# mmseg's CityscapesDataset and its layout (mmseg's cityscapes converter writes the
# *_gtFine_labelTrainIds.png labels); class names are mmseg's. Protocol of the numbers the
# paper cites (SCLIP / ClearCLIP): short side resized to 560, slide inference 224 / 112.
model = dict(name_path='{{fileDirname}}/cls_cityscapes.txt', prob_thd=0.0)

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 560), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    dataset=dict(
        type='CityscapesDataset',
        data_root='data/cityscapes',
        data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        pipeline=test_pipeline))
