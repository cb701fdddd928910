# HG-RSOVSSeg trained on potsdam with CLIP ViT-L/14 (the paper's default backbone (Tables 1-4)).
#   python tools/train.py configs/hg_rsovsseg/hg_vitl14_potsdam.py
_base_ = './_base_/datasets/potsdam.py'
model = dict(clip_type='CLIP', vit_type='ViT-L/14')
