_base_ = './base_config.py'

# DeepGlobe road extraction (GlobalRoadSet val).
# Optical. Data layout and preparation: docs/evaluation.md
model = dict(
    name_path='{{fileDirname}}/cls_deepglobe_road.txt',
    prob_thd=0.7)

test_dataloader = dict(
    dataset=dict(
        type='RoadValDataset',
        data_root='data/GlobalRoadSet_Val/DeepGlobe_test_1530',
        data_prefix=dict(img_path='image_cvt', seg_map_path='label_cvt')))
