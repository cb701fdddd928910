# HG-RSOVSSeg training runtime: the paper's settings (§4.2). Every dataset config inherits
# this and a dataset file from ./datasets/. Override anything on the command line:
#   python tools/train.py configs/hg_rsovsseg/hg_vitl14_openearthmap.py \
#       --cfg-options train_cfg.max_iters=20000 model.c_k=256 model.tam=False
custom_imports = dict(imports=['segearth_ov', 'segearth_ov.evaluation',
                               'segearth_ov.datasets.fraction'],
                      allow_failed_imports=False)
default_scope = 'mmseg'

crop_size = (512, 512)
model = dict(
    type='HGRSOVSeg',
    clip_type='CLIP',          # any backbone preset of the core (paper default CLIP ViT-L/14)
    vit_type='ViT-L/14',
    pretrained=None,
    templates='vild',          # vild (14) | imagenet (80) | imagenet_select_clip (32)
    guidance_layers=None,      # None: blocks 7 and 15 of 24 (same fractions for other depths)
    pea=True,                  # False: images resized to the native 224 (Table 3)
    fa='product',              # product | similarity | cost (Table 4)
    tam=True,
    hgu=True,
    c_k=512,
    c_o=(128, 64),
    image_trainable=(),        # ('attn', 'pos'): the "unfrozen" rows of Table 5
    text_trainable=(),
    ignore_index=255,
    loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
                     avg_non_ignore=True),
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[122.771, 116.746, 104.094],
                           std=[68.501, 66.632, 70.323], bgr_to_rgb=True, pad_val=0,
                           seg_pad_val=255, size=crop_size, _scope_='mmseg'),
    test_cfg=dict(mode='whole'),
)

# ---------------------------------------------------------------- data (paper §4.2)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=4,              # per GPU (the paper: 4 GPUs × 4 images)
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(pipeline=train_pipeline),
)
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(pipeline=test_pipeline),
)
val_dataloader = None
val_cfg = None
val_evaluator = None
test_evaluator = dict(type='SegEarthIoUMetric', iou_metrics=['mIoU'])
test_cfg = dict(type='TestLoop')

# ---------------------------------------------------------------- schedule (paper §4.2)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-5, weight_decay=1e-4),
    clip_grad=None)
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=80000, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=80000)

# ---------------------------------------------------------------- runtime
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=8000, max_keep_ckpts=3,
                    save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),   # tools/train.py switches to gloo when there is no GPU
)
randomness = dict(seed=0)
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
