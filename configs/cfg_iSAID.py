_base_ = './base_config.py'

# iSAID (val, mmseg layout).
# Optical. Data layout and preparation: docs/evaluation.md
model = dict(
    name_path='{{fileDirname}}/cls_iSAID.txt',
    prob_thd=0.4)

test_dataloader = dict(
    dataset=dict(
        type='iSAIDDataset',
        data_root='data/iSAID',
        data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val')))
