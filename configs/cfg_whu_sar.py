_base_ = './sar_base_config.py'

# WHU-OPT-SAR, SAR images (512 crops, test; labels reduce_zero_label).
# SAR: sar_base_config.py (AlignEarth, SCLIP over the last 2 blocks). Layout: docs/evaluation.md
model = dict(
    name_path='{{fileDirname}}/cls_whu_sar.txt',
    bg_idx=6,
    slide_crop=0)

test_dataloader = dict(
    dataset=dict(
        type='WHUSARDataset',
        data_root='data/whu-opt-sar/crop512/test',
        data_prefix=dict(img_path='sar_dir', seg_map_path='ann_dir'),
        pipeline={{_base_.sar_pipeline_224}}))
