_base_ = './base_config.py'

# HRSID ship masks, SAR (not in the paper's tables; labels rasterised from the COCO polygons).
# SAR. Data layout and preparation: docs/evaluation.md
model = dict(
    name_path='{{fileDirname}}/cls_hrsid.txt',
    prob_thd=0.6,
    slide_crop=0)

test_dataloader = dict(
    dataset=dict(
        type='HRSIDDataset',
        data_root='data/HRSID/HRSID_JPG',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='label/test'),
        ann_file='label/test.txt',
        pipeline=[
            dict(type='LoadSARImageFromFile'),   # 8-bit as is; 16-bit/float stretched
            dict(type='Resize', scale=(448, 448), keep_ratio=True),
            dict(type='LoadAnnotations'),
            dict(type='PackSegInputs'),
        ]))
