# HG-RSOVSSeg trained on globe230k with CLIP ViT-L/14@336 (Table 5).
#   python tools/train.py configs/hg_rsovsseg/hg_vitl14-336_globe230k.py
_base_ = './_base_/datasets/globe230k.py'
model = dict(clip_type='CLIP', vit_type='ViT-L/14@336')
