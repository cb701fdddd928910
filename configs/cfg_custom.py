_base_ = './base_config.py'

# Your own dataset, no code: images + single-band label images + a class-name file.
#   data/custom/images/<name>.png     the images (any suffix: img_suffix)
#   data/custom/labels/<name>.png     label values = line index in classes.txt (seg_map_suffix)
#   data/custom/classes.txt           one class per line, synonyms comma-separated
# Everything is settable from the command line, e.g.
#   python eval.py --config configs/cfg_custom.py --cfg-options \
#       test_dataloader.dataset.img_suffix=.tif test_dataloader.dataset.seg_map_suffix=.tif \
#       test_dataloader.dataset.ignore_index=0 test_dataloader.dataset.reduce_zero_label=True \
#       model.slide_crop=0          (whole-image inference instead of 224/112 windows)
# Another folder: test_dataloader.dataset.data_root=data/mine model.name_path=data/mine/classes.txt
# 16-bit / float / 1-band images are stretched to 8 bits (LoadSARImageFromFile); 8-bit images
# are read exactly as LoadImageFromFile reads them. See docs/evaluation.md.
model = dict(
    name_path='data/custom/classes.txt',
    prob_thd=0.0)

test_dataloader = dict(
    dataset=dict(
        type='CustomSegDataset',
        data_root='data/custom',
        classes_file='classes.txt',      # relative to data_root
        data_prefix=dict(img_path='images', seg_map_path='labels'),
        img_suffix='.png',
        seg_map_suffix='.png',
        reduce_zero_label=False,
        ignore_index=255,
        pipeline=[
            dict(type='LoadSARImageFromFile'),
            dict(type='Resize', scale=(448, 448), keep_ratio=True),
            dict(type='LoadAnnotations'),
            dict(type='PackSegInputs'),
        ]))
