_base_ = './sar_base_config.py'

# FUSAR-Map SAR.
# SAR: sar_base_config.py (AlignEarth, SCLIP over the last 2 blocks). Layout: docs/evaluation.md
model = dict(
    name_path='{{fileDirname}}/cls_fusar_sar.txt',
    bg_idx=0)

test_dataloader = dict(
    dataset=dict(
        type='FUSARDataset',
        data_root='data/FUSAR-Map',
        data_prefix=dict(img_path='sar', seg_map_path='label'),
        ann_file='test.txt'))
