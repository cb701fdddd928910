_base_ = './sar_base_config.py'

# OpenEarthMap-SAR (test).
# SAR: sar_base_config.py (AlignEarth, SCLIP over the last 2 blocks). Layout: docs/evaluation.md
model = dict(
    name_path='{{fileDirname}}/cls_openearthmap_sar.txt')

test_dataloader = dict(
    dataset=dict(
        type='OpenEarthMapDataset',
        data_root='data/OpenEarthMap_SAR/test',
        data_prefix=dict(img_path='sar_images', seg_map_path='labels')))
