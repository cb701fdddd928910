# HG-RSOVSSeg trained on globe230k with CLIP ViT-B/16 (Table 5).
#   python tools/train.py configs/hg_rsovsseg/hg_vitb16_globe230k.py
_base_ = './_base_/datasets/globe230k.py'
model = dict(clip_type='CLIP', vit_type='ViT-B/16')
