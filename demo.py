#!/usr/bin/env python
"""Segment one image with class names typed on the command line.

    python demo.py --image scene.tif --classes "building,roof,house;road;water,river"

Writes <out>/<stem>_labels.png (class index per pixel), <stem>_overlay.png (colour overlay
with a legend) and <stem>_classes.txt (index → class).
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--image', required=True, help='image file (png/jpg/tif; 1, 3 or 4 bands)')
    p.add_argument('--classes', required=True,
                   help='classes separated by ";", synonyms by ",": "building,roof;road;water"; '
                        'or a class-name file')
    p.add_argument('--clip-type', default='CLIP', help='backbone preset family (CLIP, RemoteCLIP, …)')
    p.add_argument('--vit-type', default='ViT-B/16')
    p.add_argument('--model-type', default='SegEarth',
                   help='attention of the last block: vanilla, MaskCLIP, SCLIP, ClearCLIP, SegEarth, NACLIP, GEM')
    p.add_argument('--pretrained', default=None, help='CLIP weights that replace the preset\'s')
    p.add_argument('--model-cfg', default=None, help='open_clip model-config JSON (custom architectures)')
    p.add_argument('--upsampler', default='jbu_one', help='jbu_one, jbu_stack, bilinear or none')
    p.add_argument('--upsampler-ckpt', default='checkpoints/xclip_jbu_one_million_aid.ckpt')
    p.add_argument('--cls-lambda', type=float, default=-0.3, help='global bias alleviation λ')
    p.add_argument('--prob-thd', type=float, default=0.0)
    p.add_argument('--size', type=int, default=448, help='long side the model sees (0: as is)')
    p.add_argument('--device', default=None)
    p.add_argument('--out', default='work_dirs/demo')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format='%(message)s')
    logging.getLogger('segearth_ov').setLevel(logging.INFO)   # ours, not open_clip's chatter
    import numpy as np
    from PIL import Image

    from segearth_ov.apis import inference_image, init_segmentor
    from segearth_ov.models.backbones import WeightsNotFoundError
    from segearth_ov.utils.images import ImageReadError, read_image
    from segearth_ov.visualization import save_overlay

    classes = args.classes if Path(args.classes).is_file() else \
        [c.strip() for c in args.classes.split(';') if c.strip()]
    try:
        rgb = read_image(args.image)
        t0 = time.perf_counter()
        model = init_segmentor(
            classes, clip_type=args.clip_type, vit_type=args.vit_type, model_type=args.model_type,
            pretrained=args.pretrained, model_cfg=args.model_cfg,
            upsampler=None if args.upsampler == 'none' else args.upsampler,
            upsampler_ckpt=args.upsampler_ckpt, device=args.device,
            cls_token_lambda=args.cls_lambda, prob_thd=args.prob_thd)
        t1 = time.perf_counter()
        _, pred = inference_image(model, rgb, size=args.size)
        t2 = time.perf_counter()
    except (WeightsNotFoundError, FileNotFoundError, ImageReadError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    names = model.class_names.names
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = Path(args.image).stem
    Image.fromarray(pred.astype(np.uint8)).save(out / f'{stem}_labels.png')
    (out / f'{stem}_classes.txt').write_text(
        ''.join(f'{i}\t{",".join(syn)}\n' for i, syn in enumerate(model.class_names.classes)))
    save_overlay(out / f'{stem}_overlay.png', rgb, pred, names,
                 title=f'{args.clip_type} {args.vit_type} · {args.model_type}')
    print(f'model built in {t1 - t0:.1f}s, image segmented in {t2 - t1:.1f}s')
    for i, name in enumerate(names):
        print(f'  {i:2d} {name:<24s} {100 * (pred == i).mean():5.1f}%')
    print(f'wrote {out / (stem + "_labels.png")}, {out / (stem + "_overlay.png")}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
