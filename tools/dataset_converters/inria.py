"""Inria Aerial Image Labeling → the `cfg_inria` layout (the reference's crops).

    python tools/dataset_converters/inria.py --src /downloads/AerialImageDataset/train \\
        --out data/Inria/AerialImageDataset/train

The official test tiles have no public ground truth, so the reference evaluates on 27 tiles
of the official *train* split ("split_test", 5-6 per city, listed in SPLITS below) and a
further 27 for validation ("split_val"). Each 5000x5000 tile is cut into CROP x CROP crops
(default 1000, stride 1000; the last row/column is shifted back to end at the border) named
`<tile>_<x0>_<y0>_<x1>_<y1>.png`; masks 0/255 → 0/1.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

import common as C  # noqa: E402

SOURCE = ('Inria Aerial Image Labeling Dataset (Maggiori et al. 2017), '
          'https://project.inria.fr/aerialimagelabeling/')
LAYOUT = '''<src> = AerialImageDataset/train (the official train split):
  <src>/images/<city><n>.tif   (5000x5000 RGB, cities austin chicago kitsap tyrol-w vienna)
  <src>/gt/<city><n>.tif       (0 background, 255 building)'''

SPLITS = {
    'split_test': ('vienna3 chicago10 vienna20 austin1 tyrol-w25 vienna9 chicago14 vienna18 '
                   'kitsap36 kitsap35 austin22 kitsap34 austin7 vienna11 kitsap14 kitsap25 '
                   'austin12 vienna15 kitsap9 austin36 vienna6 chicago23 tyrol-w3 chicago26 '
                   'austin24 tyrol-w1 tyrol-w36').split(),
    'split_val': ('chicago24 austin27 kitsap22 chicago28 tyrol-w6 austin8 kitsap5 vienna28 '
                  'kitsap30 austin15 kitsap13 austin19 chicago6 austin9 chicago12 vienna7 '
                  'kitsap18 tyrol-w24 vienna36 austin29 tyrol-w19 vienna29 chicago1 tyrol-w12 '
                  'tyrol-w22 austin17 tyrol-w10').split(),
}


crop_boxes = C.crop_boxes


def convert(src, out, splits=('split_test',), crop: int = 1000, stride: int = 1000) -> dict:
    src = C.require_dir(src, LAYOUT)
    img_in = C.require_dir(src / 'images', LAYOUT)
    gt_in = C.require_dir(src / 'gt', LAYOUT)
    out = Path(out)
    counts = {}
    for split in splits:
        img_out, ann_out = out / 'img_dir' / split, out / 'ann_dir' / split
        C.check_output(img_out, img_in, gt_in)
        C.check_output(ann_out, img_in, gt_in)
        n_crops, missing = 0, []
        for tile in C.progress(SPLITS[split], f'Inria {split}'):
            ip, gp = img_in / f'{tile}.tif', gt_in / f'{tile}.tif'
            if not (ip.is_file() and gp.is_file()):
                missing.append(tile)
                continue
            img, mask = C.read_rgb(ip), C.binarize(C.read_gray(gp))
            if img.shape[:2] != mask.shape:
                raise C.ConverterError(f'{tile}: image {img.shape[:2]} and mask {mask.shape} '
                                       'differ in size')
            img_out.mkdir(parents=True, exist_ok=True)
            for x0, y0, x1, y1 in crop_boxes(*mask.shape, crop, stride):
                name = f'{tile}_{x0}_{y0}_{x1}_{y1}.png'
                Image.fromarray(np.ascontiguousarray(img[y0:y1, x0:x1])).save(img_out / name)
                C.save_label(mask[y0:y1, x0:x1], ann_out / name)
                n_crops += 1
        if missing:
            print(f'warning: {split}: {len(missing)} tiles not found in {img_in} / {gt_in}: '
                  f'{" ".join(missing)}', file=sys.stderr)
        if len(missing) == len(SPLITS[split]):
            raise C.ConverterError(f'none of the {split} tiles found\nexpected:\n{LAYOUT}')
        counts[split] = dict(crops=n_crops, missing=len(missing))
        print(f'Inria {split}: {n_crops} crops → {img_out} and {ann_out}')
    return counts


def main(argv=None):
    p = C.parser(__doc__, SOURCE, LAYOUT)
    p.add_argument('--src', required=True, help='the official AerialImageDataset/train folder')
    p.add_argument('--out', required=True,
                   help='output folder, e.g. data/Inria/AerialImageDataset/train')
    p.add_argument('--splits', nargs='+', default=['split_test'], choices=sorted(SPLITS),
                   help='which tile lists to crop (the config reads split_test)')
    p.add_argument('--crop', type=int, default=1000, help='crop size (default 1000)')
    p.add_argument('--stride', type=int, default=1000, help='crop stride (default 1000)')
    a = p.parse_args(argv)
    convert(a.src, a.out, a.splits, a.crop, a.stride)


if __name__ == '__main__':
    C.run_main(main)
