_base_ = './base_config.py'

# ISPRS Potsdam (val, mmseg layout; labels reduce_zero_label).
# Optical. Data layout and preparation: docs/evaluation.md
model = dict(
    name_path='{{fileDirname}}/cls_potsdam.txt',
    prob_thd=0.1,
    bg_idx=5)

test_dataloader = dict(
    dataset=dict(
        type='PotsdamDataset',
        data_root='data/potsdam',
        data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val')))
