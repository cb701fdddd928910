_base_ = './base_config.py'

# VDD (test).
# Optical. Data layout and preparation: docs/evaluation.md
model = dict(
    name_path='{{fileDirname}}/cls_vdd.txt',
    prob_thd=0.3)

test_dataloader = dict(
    dataset=dict(
        type='VDDDataset',
        data_root='data/VDD/test',
        data_prefix=dict(img_path='src', seg_map_path='gt')))
