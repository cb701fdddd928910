_base_ = './base_config.py'

# OpenEarthMap (val).
# Optical. Data layout and preparation: docs/evaluation.md
model = dict(
    name_path='{{fileDirname}}/cls_openearthmap.txt',
    prob_thd=0.1)

test_dataloader = dict(
    dataset=dict(
        type='OpenEarthMapDataset',
        data_root='data/OpenEarthMap_val',
        data_prefix=dict(img_path='images', seg_map_path='labels')))
