_base_ = './base_config.py'

# WBS-SI, water bodies in satellite images (Kaggle), flood detection.
# Optical. Data layout and preparation: docs/evaluation.md
model = dict(
    name_path='{{fileDirname}}/cls_wbs-si.txt',
    prob_thd=0.6)

test_dataloader = dict(
    dataset=dict(
        type='WaterDataset',
        data_root='data/water-body-segmentation-in-satellite-images',
        data_prefix=dict(
            img_path='WaterBodiesDatasetPreprocessed/WaterBodiesDatasetPreprocessed/Images',
            seg_map_path='WaterBodiesDatasetPreprocessed/WaterBodiesDatasetPreprocessed/Masks_cvt'),
        ann_file='{{fileDirname}}/../tools/dataset_converters/wbs-si_val.txt'))
