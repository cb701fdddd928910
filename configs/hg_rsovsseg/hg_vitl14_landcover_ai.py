# HG-RSOVSSeg trained on landcover_ai with CLIP ViT-L/14 (the paper's default backbone (Tables 1-4)).
#   python tools/train.py configs/hg_rsovsseg/hg_vitl14_landcover_ai.py
_base_ = './_base_/datasets/landcover_ai.py'
model = dict(clip_type='CLIP', vit_type='ViT-L/14')
