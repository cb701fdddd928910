# SAR-OVSeg protocol (b): cross-dataset. Trained on every source but HRSID
# (train/val of the others), tested on HRSID's test split.
#   python tools/train.py configs/sar_ovseg/sovs_alignearth_lodo_hrsid.py
#   python tools/sar_ovseg/evaluate.py lodo --config configs/sar_ovseg/sovs_alignearth_lodo_hrsid.py \
#       --checkpoint work_dirs/sovs_alignearth_lodo_hrsid/iter_40000.pth
_base_ = './_base_/sovs_alignearth.py'

sar_ovseg = dict(level=2, held_out='hrsid', unseen=())
train_dataloader = dict(dataset=dict(ann_file='splits/lodo/hrsid/train.txt'))
test_dataloader = dict(dataset=dict(ann_file='splits/lodo/hrsid/test.txt'))
