#!/usr/bin/env python
"""Segment one image with class names typed on the command line.

    python demo.py --image scene.tif --classes "building,roof,house;road;water,river"

A thin wrapper of the predictor (`tools/predict.py`, which also takes folders, whole
GeoTIFF scenes in tiles and writes georeferenced class maps): the model sees the image
with its long side resized to --size (448, as the evaluation configs), and the demo writes
<out>/<stem>_labels.png (class index per pixel, at the image's resolution, with a palette),
<stem>_overlay.png (colour overlay with a legend), <stem>_classes.txt (index → class) and
<stem>_summary.json.
"""
from __future__ import annotations

import argparse
import sys


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--image', required=True, help='image file (png/jpg/tif; 1, 3 or 4 bands)')
    p.add_argument('--classes', required=True,
                   help='classes separated by ";", synonyms by ",": "building,roof;road;water"; '
                        'or a class-name file')
    p.add_argument('--clip-type', default='CLIP', help='backbone preset family (CLIP, RemoteCLIP, …)')
    p.add_argument('--vit-type', default='ViT-B/16', help='ViT size: ViT-B/16, ViT-B/32, '
                   'ViT-L/14 (the presets: README "Backbone presets and weights")')
    p.add_argument('--model-type', default='SegEarth',
                   help='attention of the last block: vanilla, MaskCLIP, SCLIP, ClearCLIP, SegEarth, NACLIP, GEM')
    p.add_argument('--pretrained', default=None, help='CLIP weights that replace the preset\'s')
    p.add_argument('--model-cfg', default=None, help='open_clip model-config JSON (custom architectures)')
    p.add_argument('--upsampler', default='jbu_one', help='jbu_one, jbu_stack, bilinear or none')
    p.add_argument('--upsampler-ckpt', help='SimFeatUp checkpoint (default: the released '
                   'weights of --upsampler, downloaded and verified on first use)')
    p.add_argument('--cls-lambda', type=float, default=-0.3, help='global bias alleviation λ')
    p.add_argument('--prob-thd', type=float, default=0.0, help='pixels whose best class '
                   'probability is lower get class 0 (default 0: never)')
    p.add_argument('--bands', default=None, help='band numbers (from 1) used as R,G,B, or one '
                   'band, e.g. 3,2,1 or 1 (images with 2 or more than 4 bands need it)')
    p.add_argument('--size', type=int, default=448, help='long side the model sees (0: as is)')
    p.add_argument('--device', default=None, help='cpu, cuda or cuda:N (default: cuda if '
                   'present, else cpu)')
    p.add_argument('--precision', choices=['auto', 'fp32', 'fp16', 'bf16'],
                   help="the ViT's precision (default auto: bf16 on a CPU with native bf16, "
                   'fp16 on CUDA, else fp32), as tools/predict.py --precision')
    p.add_argument('--out', default='work_dirs/demo', help='output folder (default '
                   'work_dirs/demo; created if missing)')
    return p.parse_args(argv)


def predictor_argv(args) -> list[str]:
    """The tools/predict.py command line that does what the demo's flags ask."""
    argv = [args.image, '--classes', args.classes, '--out', args.out, '--format', 'png',
            '--clip-type', args.clip_type, '--vit-type', args.vit_type,
            '--model-type', args.model_type, '--upsampler', args.upsampler,
            '--cls-lambda', str(args.cls_lambda),
            '--prob-thd', str(args.prob_thd), '--quiet']
    for flag, value in (('--pretrained', args.pretrained), ('--model-cfg', args.model_cfg),
                        ('--upsampler-ckpt', args.upsampler_ckpt), ('--device', args.device),
                        ('--bands', args.bands), ('--precision', args.precision)):
        if value is not None:
            argv += [flag, value]
    if args.size:
        argv += ['--resize-long-side', str(args.size)]
    return argv


def main(argv=None) -> int:
    from segearth_ov.utils.runtime import use_huge_pages
    use_huge_pages()          # before torch's first allocation (segearth_ov/utils/runtime.py)
    from segearth_ov.mapping.cli import main as predict_main
    return predict_main(predictor_argv(parse_args(argv)), prog='demo.py')


if __name__ == '__main__':
    sys.exit(main())
