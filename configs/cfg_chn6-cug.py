_base_ = './base_config.py'

# CHN6-CUG road extraction (val).
# Optical. Data layout and preparation: docs/evaluation.md
model = dict(
    name_path='{{fileDirname}}/cls_chn6-cug.txt',
    prob_thd=0.8)

test_dataloader = dict(
    dataset=dict(
        type='CHN6_CUGDataset',
        data_root='data/CHN6-CUG/val',
        data_prefix=dict(img_path='image_cvt', seg_map_path='label_cvt')))
