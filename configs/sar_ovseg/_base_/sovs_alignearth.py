# SAR-OVSeg's trained SAR model (encoding–alignment–decoding): the frozen AlignEarth SAR
# encoder (ViT-B/16), text–visual alignment and hierarchical decoding of HG-RSOVSSeg
# (segearth_ov/models/segmentors/hg_rsovsseg.py), trained with tools/train.py on the builder's
# splits, level-2 labels, with SAR augmentations (segearth_ov/datasets/sar_augment.py):
# random 512 crops, horizontal/vertical flips, 90° rotations, a random gain of ±3 dB and
# multiplicative Gamma speckle with L ∈ [1, 8] looks. Protocol configs inherit this file.
_base_ = '../../hg_rsovsseg/_base_/hg_runtime.py'
custom_imports = dict(imports=['segearth_ov', 'segearth_ov.evaluation',
                               'segearth_ov.datasets.fraction', 'segearth_ov.datasets.sar_ovseg',
                               'segearth_ov.datasets.sar_augment',
                               'segearth_ov.evaluation.open_vocab'],
                      allow_failed_imports=False)

sar_ovseg = dict(level=2, held_out=None, unseen=())
data_root = 'data/SAR-OVSeg'
crop_size = (512, 512)
class_file = '{{fileDirname}}/../cls_sar_ovseg_l2.txt'
model = dict(clip_type='AlignEarth', vit_type='ViT-B/16', name_path=class_file,
             data_preprocessor=dict(size=crop_size))

train_pipeline = [
    dict(type='LoadSARImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal', 'vertical']),
    dict(type='RandomRotate90', prob=0.5),
    dict(type='RandomGainDB', gain_db=(-3.0, 3.0), prob=0.5),
    dict(type='GammaSpeckle', looks=(1.0, 8.0), prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadSARImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    dataset=dict(type='SAROVSegL2Dataset', data_root=data_root,
                 data_prefix=dict(img_path='img', seg_map_path='ann_l2'),
                 ann_file='splits/all/train.txt', pipeline=train_pipeline))
test_dataloader = dict(
    dataset=dict(type='SAROVSegL2Dataset', data_root=data_root,
                 data_prefix=dict(img_path='img', seg_map_path='ann_l2'),
                 ann_file='splits/all/test.txt', pipeline=test_pipeline))
test_evaluator = dict(type='OpenVocabIoUMetric', iou_metrics=['mIoU'])
# SAR-OVSeg trains the decoder of a ViT-B/16 for 40k iterations (half the paper's 80k for
# ViT-L/14); override with --cfg-options train_cfg.max_iters=...
train_cfg = dict(max_iters=40000)
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=40000,
                        by_epoch=False)]
default_hooks = dict(checkpoint=dict(interval=4000))
