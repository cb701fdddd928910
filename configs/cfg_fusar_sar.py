_base_ = './base_config.py'

# FUSAR-Map SAR.
# SAR, AlignEarth preset. Data layout and preparation: docs/evaluation.md
model = dict(
    name_path='{{fileDirname}}/cls_fusar_sar.txt',
    clip_type='AlignEarth',
    model_type='SCLIP',
    ssa_last_n_layers=2,
    prob_thd=0.0,
    bg_idx=0)

test_dataloader = dict(
    dataset=dict(
        type='FUSARDataset',
        data_root='data/FUSAR-Map',
        data_prefix=dict(img_path='sar', seg_map_path='label'),
        ann_file='test.txt',
        pipeline=[
            dict(type='LoadSARImageFromFile'),   # 8-bit as is; 16-bit/float stretched
            dict(type='Resize', scale=(448, 448), keep_ratio=True),
            dict(type='LoadAnnotations'),
            dict(type='PackSegInputs'),
        ]))
