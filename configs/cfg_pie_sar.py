_base_ = './sar_base_config.py'

# PIE-SAR (PIE-RGB-SAR, SAR images).
# SAR: sar_base_config.py (AlignEarth, SCLIP over the last 2 blocks). Layout: docs/evaluation.md
model = dict(
    name_path='{{fileDirname}}/cls_pie_sar.txt',
    bg_idx=0,
    slide_crop=0)

test_dataloader = dict(
    dataset=dict(
        type='PIESARDataset',
        data_root='data/PIE-RGB-SAR',
        data_prefix=dict(img_path='sar', seg_map_path='label'),
        ann_file='val.txt',
        pipeline={{_base_.sar_pipeline_224}}))
