_base_ = './base_config.py'

# YESeg-SAR (YESeg-OPT-SAR, SAR images).
# SAR, AlignEarth preset. Data layout and preparation: docs/evaluation.md
model = dict(
    name_path='{{fileDirname}}/cls_yeseg_sar.txt',
    clip_type='AlignEarth',
    model_type='SCLIP',
    ssa_last_n_layers=2,
    prob_thd=0.3,
    slide_crop=0)

test_dataloader = dict(
    dataset=dict(
        type='YESegSARDataset',
        data_root='data/YESeg-OPT-SAR',
        data_prefix=dict(img_path='sar', seg_map_path='cvt_label'),
        ann_file='test.txt',
        pipeline=[
            dict(type='LoadSARImageFromFile'),   # 8-bit as is; 16-bit/float stretched
            dict(type='Resize', scale=(224, 224), keep_ratio=True),
            dict(type='LoadAnnotations'),
            dict(type='PackSegInputs'),
        ]))
