"""AlignEarth training: distil a frozen optical CLIP image encoder into a SAR encoder.

`python alignearth_train/train.py --config …` (see README.md here). Modules:
- `losses`: global contrastive, global and region (K×K) distillation, learnable τ;
- `encoders`: teacher/student, their projected tokens, the saved open_clip checkpoint;
- `data`: pairs files / matched folders, the paired dataset (the package's one conversion);
- `synthetic`: SAR-like twins of optical images (speckle, misregistration) for demos/tests;
- `retrieval`: held-out optical↔SAR retrieval accuracy (the per-epoch validation);
- `trainer`: the loop (AdamW, accumulation, DDP, AMP, checkpoints, resume); `config`.
"""
