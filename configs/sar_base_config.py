_base_ = './base_config.py'

# The SAR sets: the AlignEarth SAR encoder with SCLIP attention over the last two blocks
# (paper §5.1), images read by LoadSARImageFromFile (8-bit files exactly as the reference
# reads them; 1-band / 16-bit / float stretched to 8-bit 3-channel). A config whose
# images are resized to a long side of 224 takes `pipeline={{_base_.sar_pipeline_224}}`.
model = dict(clip_type='AlignEarth', model_type='SCLIP', ssa_last_n_layers=2, prob_thd=0.0)

sar_pipeline_448 = [
    dict(type='LoadSARImageFromFile'),
    dict(type='Resize', scale=(448, 448), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
sar_pipeline_224 = [
    dict(type='LoadSARImageFromFile'),
    dict(type='Resize', scale=(224, 224), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(dataset=dict(pipeline=sar_pipeline_448))
