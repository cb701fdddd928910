#!/usr/bin/env python
"""Make SAR-like twins of optical images, to run AlignEarth training without SAR data.

    python alignearth_train/make_synthetic_pairs.py --optical data/demo \\
        --out work_dirs/synthetic_pairs [--tile 224] [--looks 4] [--max-shift 4] [--dtype uint16]

Writes OUT/optical/*.png, OUT/sar/*.tif (1 band: 16-bit amplitude, or float32 linear
intensity) and OUT/pairs.txt for `data.pairs=OUT/pairs.txt`.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def main(argv=None) -> Path:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split('\n\n', 1)[1])
    p.add_argument('--optical', required=True, help='an optical image, a folder of them, or a '
                   'list file (one path per line)')
    p.add_argument('--out', required=True, help='output folder (refused if it has a pairs.txt)')
    p.add_argument('--tile', type=int, default=224, help='cut images into tiles of this side '
                   '(0: whole images)')
    p.add_argument('--looks', type=float, default=4, help='speckle looks (fewer: noisier)')
    p.add_argument('--max-shift', type=int, default=4, help='largest misregistration, pixels')
    p.add_argument('--dtype', choices=['uint16', 'float32'], default='uint16',
                   help='uint16 amplitude, or float32 linear intensity (train with '
                        'data.sar.to_db=True)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--overwrite', action='store_true', help='replace an existing set in --out')
    args = p.parse_args(argv)
    from alignearth_train.synthetic import make_pairs
    from segearth_ov.training import list_images
    src = Path(args.optical)
    images = [src] if src.is_file() and src.suffix.lower() in ('.png', '.jpg', '.jpeg', '.tif',
                                                                 '.tiff', '.bmp', '.webp') \
        else list_images(src)
    pairs = make_pairs(images, args.out, args.tile or None, args.looks, args.max_shift,
                       args.dtype, args.seed, args.overwrite)
    print(f'{len(pairs.read_text().splitlines())} pairs: {pairs}')
    return pairs


if __name__ == '__main__':
    main()
