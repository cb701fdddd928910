_base_ = './base_config.py'

# UAVid (test images with labels).
# Optical. Data layout and preparation: docs/evaluation.md
model = dict(
    name_path='{{fileDirname}}/cls_uavid.txt',
    prob_thd=0.3)

test_dataloader = dict(
    dataset=dict(
        type='UAVidDataset',
        data_root='data/UAVid',
        data_prefix=dict(img_path='img_dir/test', seg_map_path='ann_dir/test')))
