# SimFeatUp for a ViT-B/32 remote-sensing CLIP (paper Table 5): JBU_One runs 5 times (32×),
# the downsampler window is one 32-pixel patch (7×7 tokens for a 224 crop).
_base_ = './simfeatup_clip_vit_b16.py'

clip_type = 'RemoteCLIP'   # or 'GeoRSCLIP', 'SkyCLIP'
vit_type = 'ViT-B/32'
work_dir = 'work_dirs/simfeatup_remoteclip_vit_b32'
