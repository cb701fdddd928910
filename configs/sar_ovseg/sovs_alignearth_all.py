# The trained SAR model on all SAR-OVSeg sources (train split), tested on all test tiles.
#   python tools/train.py configs/sar_ovseg/sovs_alignearth_all.py
#   python tools/sar_ovseg/evaluate.py prompts --config configs/sar_ovseg/sovs_alignearth_all.py \
#       --checkpoint work_dirs/sovs_alignearth_all/iter_40000.pth
_base_ = './_base_/sovs_alignearth.py'
