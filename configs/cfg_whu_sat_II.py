_base_ = './base_config.py'

# WHU Building, satellite dataset II (East Asia, test).
# Optical. Data layout and preparation: docs/evaluation.md
model = dict(
    name_path='{{fileDirname}}/cls_whu_sat_II.txt',
    prob_thd=0.7)

test_dataloader = dict(
    dataset=dict(
        type='WHUDataset',
        data_root='data/WHU_Sat_II/Satellite_dataset_Ⅱ_East_Asia/1.cropped/test',
        data_prefix=dict(img_path='image', seg_map_path='label_cvt')))
