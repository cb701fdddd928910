_base_ = './base_config.py'

# LoveDA (val, mmseg layout; labels reduce_zero_label).
# Optical. Data layout and preparation: docs/evaluation.md
model = dict(
    name_path='{{fileDirname}}/cls_loveda.txt',
    prob_thd=0.3)

test_dataloader = dict(
    dataset=dict(
        type='LoveDADataset',
        data_root='data/LoveDA',
        data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val')))
