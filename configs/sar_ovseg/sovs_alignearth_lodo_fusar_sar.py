# SAR-OVSeg protocol (b): cross-dataset. Trained on every source but FUSAR-Map
# (train/val of the others), tested on FUSAR-Map's test split.
#   python tools/train.py configs/sar_ovseg/sovs_alignearth_lodo_fusar_sar.py
#   python tools/sar_ovseg/evaluate.py lodo --config configs/sar_ovseg/sovs_alignearth_lodo_fusar_sar.py \
#       --checkpoint work_dirs/sovs_alignearth_lodo_fusar_sar/iter_40000.pth
_base_ = './_base_/sovs_alignearth.py'

sar_ovseg = dict(level=2, held_out='fusar_sar', unseen=())
train_dataloader = dict(dataset=dict(ann_file='splits/lodo/fusar_sar/train.txt'))
test_dataloader = dict(dataset=dict(ann_file='splits/lodo/fusar_sar/test.txt'))
