"""SimFeatUp training: learn the JBU upsampler from unlabeled images (paper §3.2).

- `jitter`: the random views (pad, zoom, crop, flip) applied alike to images and features;
- `modules`: the parts trained beside the upsampler and dropped afterwards (attention
  downsampler, uncertainty net, content retention network) and the loss terms;
- `features`: the frozen CLIP features SimFeatUp learns to upsample;
- `data`: random crops of a folder or list of unlabeled images;
- `objective`: one view's losses; `trainer`: the loop, checkpoints and resume;
- `train.py`: the command line.
"""
