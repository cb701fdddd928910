# SAR-OVSeg protocol (a): training-free SegEarth-OV with the AlignEarth SAR encoder (the SAR
# preset of configs/sar_base_config.py) on the built benchmark, level-2 classes.
#   python tools/sar_ovseg/build.py --data-root data --out data/SAR-OVSeg
#   python tools/sar_ovseg/evaluate.py zeroshot          # every source, levels 2 and 1
# tools/sar_ovseg/evaluate.py sets the split, level and class subset of each source.
_base_ = '../sar_base_config.py'
custom_imports = dict(imports=['segearth_ov', 'segearth_ov.evaluation',
                               'segearth_ov.datasets.sar_ovseg',
                               'segearth_ov.evaluation.open_vocab'],
                      allow_failed_imports=False)
model = dict(name_path='{{fileDirname}}/cls_sar_ovseg_l2.txt')
test_dataloader = dict(
    dataset=dict(
        type='SAROVSegL2Dataset',
        data_root='data/SAR-OVSeg',
        data_prefix=dict(img_path='img', seg_map_path='ann_l2'),
        ann_file='splits/all/test.txt'))
test_evaluator = dict(type='OpenVocabIoUMetric', iou_metrics=['mIoU'])
