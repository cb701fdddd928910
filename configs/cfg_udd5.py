_base_ = './base_config.py'

# UDD5 (val).
# Optical. Data layout and preparation: docs/evaluation.md
model = dict(
    name_path='{{fileDirname}}/cls_udd5.txt',
    prob_thd=0.4,
    bg_idx=4)

test_dataloader = dict(
    dataset=dict(
        type='UDD5Dataset',
        data_root='data/UDD5/val',
        data_prefix=dict(img_path='src', seg_map_path='gt')))
