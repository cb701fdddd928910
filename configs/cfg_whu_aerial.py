_base_ = './base_config.py'

# WHU Building, aerial (val).
# Optical. Data layout and preparation: docs/evaluation.md
model = dict(
    name_path='{{fileDirname}}/cls_whu_aerial.txt',
    prob_thd=0.6)

test_dataloader = dict(
    dataset=dict(
        type='WHUDataset',
        data_root='data/WHU-BD/val',
        data_prefix=dict(img_path='image', seg_map_path='label_cvt')))
