_base_ = './sar_base_config.py'

# YESeg-SAR (YESeg-OPT-SAR, SAR images).
# SAR: sar_base_config.py (AlignEarth, SCLIP over the last 2 blocks). Layout: docs/evaluation.md
model = dict(
    name_path='{{fileDirname}}/cls_yeseg_sar.txt',
    prob_thd=0.3,
    slide_crop=0)

test_dataloader = dict(
    dataset=dict(
        type='YESegSARDataset',
        data_root='data/YESeg-OPT-SAR',
        data_prefix=dict(img_path='sar', seg_map_path='cvt_label'),
        ann_file='test.txt',
        pipeline={{_base_.sar_pipeline_224}}))
