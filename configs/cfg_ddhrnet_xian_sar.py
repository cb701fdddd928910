_base_ = './sar_base_config.py'

# DDHR-XA SAR (DDHRNet, Xi'an, no-cloud).
# SAR: sar_base_config.py (AlignEarth, SCLIP over the last 2 blocks). Layout: docs/evaluation.md
model = dict(
    name_path='{{fileDirname}}/cls_ddhrnet_xian_sar.txt',
    slide_crop=0)

test_dataloader = dict(
    dataset=dict(
        type='DDHR_Xian_SARDataset',
        data_root='data/DDHRNet_DATA/xian/no_cloud',
        data_prefix=dict(img_path='sar', seg_map_path='label'),
        ann_file='val.txt',
        pipeline={{_base_.sar_pipeline_224}}))
