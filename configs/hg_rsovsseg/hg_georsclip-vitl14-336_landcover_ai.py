# HG-RSOVSSeg trained on landcover_ai with GeoRSCLIP ViT-L/14@336 (the paper's best (Table 5) and Table 6's backbone).
#   python tools/train.py configs/hg_rsovsseg/hg_georsclip-vitl14-336_landcover_ai.py
_base_ = './_base_/datasets/landcover_ai.py'
model = dict(clip_type='GeoRSCLIP', vit_type='ViT-L/14@336')
