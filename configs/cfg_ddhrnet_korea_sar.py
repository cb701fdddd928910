_base_ = './base_config.py'

# DDHR-Korea SAR (DDHRNet, no-cloud).
# SAR, AlignEarth preset. Data layout and preparation: docs/evaluation.md
model = dict(
    name_path='{{fileDirname}}/cls_ddhrnet_korea_sar.txt',
    clip_type='AlignEarth',
    model_type='SCLIP',
    ssa_last_n_layers=2,
    prob_thd=0.0,
    slide_crop=0)

test_dataloader = dict(
    dataset=dict(
        type='DDHR_Korea_SARDataset',
        data_root='data/DDHRNet_DATA/korea/no_cloud',
        data_prefix=dict(img_path='sar', seg_map_path='label'),
        ann_file='val.txt',
        pipeline=[
            dict(type='LoadSARImageFromFile'),   # 8-bit as is; 16-bit/float stretched
            dict(type='Resize', scale=(224, 224), keep_ratio=True),
            dict(type='LoadAnnotations'),
            dict(type='PackSegInputs'),
        ]))
