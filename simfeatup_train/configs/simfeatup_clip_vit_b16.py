# SimFeatUp training with the paper's settings (SegEarth-OV §3.2, §5.2): JBU_One on CLIP
# ViT-B/16, 16k random Million-AID images, 224 crops, 5 views per batch, NAdam 1e-3, 1 epoch,
# batch 4 per GPU on 2 GPUs (torchrun --nproc_per_node 2).

# Backbone, chosen as at inference (presets: README "Backbone presets and weights").
clip_type = 'CLIP'
vit_type = 'ViT-B/16'
pretrained = None          # weights replacing the preset's (a path or hf-hub:<repo>/<file>)
model_cfg = None           # an open_clip model-config JSON for architectures open_clip lacks
quick_gelu = None

# Upsampler being trained (the inference module itself); JBU steps = log2(patch size).
upsampler = 'jbu_one'      # or 'jbu_stack'
upsampler_init = None      # start from these weights (a *.ckpt) instead of a random init

# Data: a folder of images (searched recursively) or a list file (one path per line).
data = 'data/simfeatup/million_aid_16k.txt'
crop_size = 224
num_workers = 4

# Schedule.
batch_size = 4             # per process
epochs = 1
max_steps = None           # stop earlier (a number of optimiser steps)
lr = 1e-3
clip_grad_norm = 1e-4      # gradient-norm clip for the first clip_grad_steps steps
clip_grad_steps = 10
seed = 0

# Multi-view reconstruction (FeatUp's) and content retention (the paper's CRN).
n_jitters = 5
max_pad = 20
max_zoom = 2.0
zoom_prob = 0.5
flip_prob = 0.5
proj_dim = 30              # random projection of the compared features
down_kernel = None         # attention downsampler window; None: the patch size (16)
gamma = 0.1                # weight of the image reconstruction loss

# Outputs.
work_dir = 'work_dirs/simfeatup_clip_vit_b16'
save_every = 500           # steps between resumable states (and upsampler checkpoints)
vis_every = 500            # steps between pictures in <work_dir>/vis/
device = None              # default: CUDA if present, else CPU
