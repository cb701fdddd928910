# SAR-OVSeg protocol (c): open vocabulary. Three level-2 classes are hidden in training (their
# labels become ignore: the training set lists only the seen classes, mmseg maps the others to
# 255) and the model is told only the seen names; at test every class is named and the seen
# and unseen mIoU and their harmonic mean are reported (OpenVocabIoUMetric).
# Unseen: village (WHU-SAR), pavement (OpenEarthMap-SAR), bare land (OpenEarthMap-SAR,
# YESeg-SAR) — each a minority class that a few sources label, so the rest of the data stays.
#   python tools/train.py configs/sar_ovseg/sovs_alignearth_openvocab.py
#   python tools/sar_ovseg/evaluate.py openvocab --checkpoint work_dirs/sovs_alignearth_openvocab/iter_40000.pth
_base_ = './_base_/sovs_alignearth.py'

sar_ovseg = dict(level=2, held_out=None, unseen=('village', 'pavement', 'bare land'))
seen_classes = ('building', 'urban area', 'road', 'tree', 'grass', 'cropland', 'water', 'ship')
seen_lines = ['building,roof,house', 'city,urban area', 'road,roadway', 'tree,forest',
              'grass,meadow', 'cropland,farmland', 'water,river', 'ship,boat']
model = dict(name_path=None, classes=seen_lines)
train_dataloader = dict(dataset=dict(metainfo=dict(classes=seen_classes)))
test_evaluator = dict(type='OpenVocabIoUMetric', iou_metrics=['mIoU'],
                      unseen=['village', 'pavement', 'bare land'])
