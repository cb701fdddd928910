# SegEarth-OV base configuration (mmengine Python config). Every configs/cfg_<dataset>.py
# inherits it with `_base_ = './base_config.py'` and sets its class-name file, its
# per-dataset settings and its test data. Change anything from the command line:
#   python eval.py --config configs/cfg_loveda.py \
#       --cfg-options model.clip_type=GeoRSCLIP model.vit_type=ViT-B/32 \
#                     model.model_type=ClearCLIP model.pretrained=checkpoints/RS5M_ViT-B-32.pt

custom_imports = dict(imports=['segearth_ov', 'segearth_ov.evaluation'],
                      allow_failed_imports=False)
default_scope = 'mmseg'

# ------------------------------------------------------------------------- model
model = dict(
    type='SegEarthSegmentation',
    clip_type='CLIP',          # a backbone preset: CLIP, OpenCLIP, MetaCLIP, RemoteCLIP,
                               # GeoRSCLIP, SkyCLIP, FarSLIP, LRSCLIP, AlignEarth (SAR)
    vit_type='ViT-B/16',       # ViT-B/16, ViT-B/32, ViT-L/14 (what the preset has)
    model_type='SegEarth',     # vanilla, MaskCLIP, SCLIP, ClearCLIP, SegEarth, NACLIP, GEM
    pretrained=None,           # a checkpoint file replacing the preset's weights
    model_cfg=None,            # an open_clip model-config JSON replacing the preset's arch
    ignore_residual=True,
    feature_up=True,
    feature_up_cfg=dict(model_name='jbu_one',
                        model_path='checkpoints/xclip_jbu_one_million_aid.ckpt'),
    cls_token_lambda=-0.3,
    # the defaults of the segmentor, spelled out: slide inference 224/112, logit scale 50
    slide_crop=224,
    slide_stride=112,
    logit_scale=50,
    prob_thd=0.0,
    bg_idx=0,
    ssa_last_n_layers=1,
)
# distributed testing (dist_test.sh): no DDP, each rank predicts its share of the images
model_wrapper_cfg = dict(type='InferenceOnlyWrapper')

# ------------------------------------------------------------------------- data
# Images are resized so that the long side is 448 (some SAR sets: 224); labels are not
# resized: the segmentor predicts at the label's (original) size.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(448, 448), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(pipeline=test_pipeline),
)
test_evaluator = dict(type='SegEarthIoUMetric', iou_metrics=['mIoU'])
test_cfg = dict(type='TestLoop')

# ------------------------------------------------------------------------- runtime
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),   # eval.py switches to gloo when there is no GPU
)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
)
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
