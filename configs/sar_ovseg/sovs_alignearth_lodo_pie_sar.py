# SAR-OVSeg protocol (b): cross-dataset. Trained on every source but PIE-SAR
# (train/val of the others), tested on PIE-SAR's test split.
#   python tools/train.py configs/sar_ovseg/sovs_alignearth_lodo_pie_sar.py
#   python tools/sar_ovseg/evaluate.py lodo --config configs/sar_ovseg/sovs_alignearth_lodo_pie_sar.py \
#       --checkpoint work_dirs/sovs_alignearth_lodo_pie_sar/iter_40000.pth
_base_ = './_base_/sovs_alignearth.py'

sar_ovseg = dict(level=2, held_out='pie_sar', unseen=())
train_dataloader = dict(dataset=dict(ann_file='splits/lodo/pie_sar/train.txt'))
test_dataloader = dict(dataset=dict(ann_file='splits/lodo/pie_sar/test.txt'))
