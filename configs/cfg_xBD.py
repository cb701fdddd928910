_base_ = './base_config.py'

# xBD building extraction (pre-disaster images, test).
# Optical. Data layout and preparation: docs/evaluation.md
model = dict(
    name_path='{{fileDirname}}/cls_xBD.txt',
    prob_thd=0.0,
    cls_token_lambda=0)

test_dataloader = dict(
    dataset=dict(
        type='xBDDataset',
        data_root='data/xBD/test',
        data_prefix=dict(img_path='images_pre', seg_map_path='targets_cvt_pre')))
