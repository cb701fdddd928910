# HG-RSOVSSeg trained on gid_large with CLIP ViT-L/14 (the paper's default backbone (Tables 1-4)).
#   python tools/train.py configs/hg_rsovsseg/hg_vitl14_gid_large.py
_base_ = './_base_/datasets/gid_large.py'
model = dict(clip_type='CLIP', vit_type='ViT-L/14')
