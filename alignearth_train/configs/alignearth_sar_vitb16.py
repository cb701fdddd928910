# AlignEarth: distil OpenAI CLIP ViT-B/16 into a SAR image encoder — the paper's settings
# (SegEarth-OV §4.2 and §5.2: AdamW, lr 1e-4, 20 epochs, batch 512, τ initialised to 0.07,
# K = 7 regions, the three losses weighted 1). Every key of every config is listed here;
# a config of your own only needs the keys it changes (it is merged over this file), and
# `--cfg-options key=value` changes single entries, e.g. data.pairs=PAIRS.txt.

teacher = dict(
    clip_type='CLIP',          # any backbone preset (CLIP, OpenCLIP, RemoteCLIP, …)
    vit_type='ViT-B/16',
    pretrained=None,           # weights replacing the preset's (path or hf-hub:repo/file)
    model_cfg=None,            # open_clip model-config JSON for other architectures
    quick_gelu=None,           # None: as the preset (OpenAI CLIP: QuickGELU)
)

data = dict(
    # training pairs: a pairs file (lines "optical_path sar_path", relative to the file) …
    pairs=None,
    # … or two folders whose images are matched by name (a.png ↔ a.tif)
    optical_dir=None,
    sar_dir=None,
    # held-out pairs for the per-epoch retrieval check; without them, val_fraction of the
    # training pairs is held out (a seeded split)
    val_pairs=None,
    val_optical_dir=None,
    val_sar_dir=None,
    val_fraction=0.02,
    image_size=224,            # both images are resized to image_size × image_size
    hflip=0.5,                 # flip both images of a pair together
    crop_scale=(1.0, 1.0),     # side of a random crop (same relative window in both); 1: none
    # the conversion of segearth_ov.utils.images.to_uint8_rgb; 8-bit images are used as
    # they are, 16-bit/float get the percentile stretch (after 10·log10 when to_db=True)
    optical=dict(percentiles=(2, 98), nodata=None),
    sar=dict(to_db=False, percentiles=(2, 98), nodata=None),
    num_workers=4,
)

loss = dict(
    contrastive=1.0,           # weight of the global contrastive loss
    global_distill=1.0,        # weight of 1 − cos(teacher cls, student cls)
    local_distill=1.0,         # weight of the K×K region distillation
    regions=7,                 # K
    init_temperature=0.07,     # τ, learnable
    max_logit_scale=100.0,     # 1/τ is clamped here (as CLIP)
)

optimizer = dict(
    lr=1e-4,
    weight_decay=0.01,         # AdamW's default; not on norms, biases, embeddings, τ
    betas=(0.9, 0.999),
    eps=1e-8,
    schedule='constant',       # or 'cosine' (to 0 at the last step)
    warmup_steps=0,            # linear warm-up steps (either schedule)
    grad_clip=None,            # max gradient norm, or None
)

epochs = 20
batch_size = 512               # pairs per optimiser step, all GPUs and accumulation together
micro_batch_size = None        # pairs per GPU per forward; None: batch_size / GPUs
amp = 'auto'                   # GPU: 'auto' (bf16 where the GPU has it natively, else fp16),
                               # 'bf16', 'fp16', 'none'; always float32 on CPU
grad_checkpointing = False     # recompute the student's blocks in backward (less memory)
seed = 0
device = None                  # None: CUDA if present, else CPU
work_dir = 'work_dirs/alignearth'
save_every_steps = 500         # a resumable state every N optimiser steps (and each epoch)
save_half = False              # write the student CLIP checkpoints in float16
save_epoch_checkpoints = True  # alignearth_epoch_<N>.pt after every epoch (else only _latest)
val_every_epochs = 1
val_at_start = True            # retrieval of the untrained student, for comparison
val_batch_size = 64
