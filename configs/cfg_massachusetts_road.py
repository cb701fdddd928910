_base_ = './base_config.py'

# Massachusetts road extraction (GlobalRoadSet val).
# Optical. Data layout and preparation: docs/evaluation.md
model = dict(
    name_path='{{fileDirname}}/cls_massachusetts_road.txt',
    prob_thd=0.7)

test_dataloader = dict(
    dataset=dict(
        type='RoadValDataset',
        data_root='data/GlobalRoadSet_Val/Massachusetts_test_49',
        data_prefix=dict(img_path='img', seg_map_path='label_cvt')))
