_base_ = '../base_config.py'

# COCO-Stuff 164k, 171 classes (val2017, 5,000 images): SegEarth-OV Table 8, natural images.
# mmseg's COCOStuffDataset and its layout (mmseg's coco_stuff164k converter writes the
# *_labelTrainIds.png labels); class names are mmseg's. Protocol of the numbers the paper
# cites (SCLIP / ClearCLIP): short side resized to 448, slide inference 224 / 112.
model = dict(name_path='{{fileDirname}}/cls_coco_stuff164k.txt', prob_thd=0.0)

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 448), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    dataset=dict(
        type='COCOStuffDataset',
        data_root='data/coco_stuff164k',
        data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017'),
        pipeline=test_pipeline))
