_base_ = './base_config.py'

# Inria Aerial Image Labeling, building extraction (split_test).
# Optical. Data layout and preparation: docs/evaluation.md
model = dict(
    name_path='{{fileDirname}}/cls_inria.txt',
    prob_thd=0.6)

test_dataloader = dict(
    dataset=dict(
        type='InriaDataset',
        data_root='data/Inria/AerialImageDataset/train',
        data_prefix=dict(img_path='img_dir/split_test', seg_map_path='ann_dir/split_test')))
