_base_ = './base_config.py'

# WHU-OPT-SAR, SAR images (512 crops, test; labels reduce_zero_label).
# SAR, AlignEarth preset. Data layout and preparation: docs/evaluation.md
model = dict(
    name_path='{{fileDirname}}/cls_whu_sar.txt',
    clip_type='AlignEarth',
    model_type='SCLIP',
    ssa_last_n_layers=2,
    prob_thd=0.0,
    bg_idx=6,
    slide_crop=0)

test_dataloader = dict(
    dataset=dict(
        type='WHUSARDataset',
        data_root='data/whu-opt-sar/crop512/test',
        data_prefix=dict(img_path='sar_dir', seg_map_path='ann_dir'),
        pipeline=[
            dict(type='LoadSARImageFromFile'),   # 8-bit as is; 16-bit/float stretched
            dict(type='Resize', scale=(224, 224), keep_ratio=True),
            dict(type='LoadAnnotations'),
            dict(type='PackSegInputs'),
        ]))
