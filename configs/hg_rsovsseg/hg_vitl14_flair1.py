# HG-RSOVSSeg trained on flair1 with CLIP ViT-L/14 (the paper's default backbone (Tables 1-4)).
#   python tools/train.py configs/hg_rsovsseg/hg_vitl14_flair1.py
_base_ = './_base_/datasets/flair1.py'
model = dict(clip_type='CLIP', vit_type='ViT-L/14')
