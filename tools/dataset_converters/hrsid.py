"""HRSID (SAR ship instances, COCO format) → the `cfg_hrsid` layout.

    python tools/dataset_converters/hrsid.py --src /downloads/HRSID_JPG --out data/HRSID/HRSID_JPG

Rasterises the instance polygons of `annotations/test2017.json` with cv2.fillPoly into one
label image per image (0 background, 1 ship): `<out>/label/test/<name>.png`, and writes the
split list `<out>/label/test.txt` (every image of the json, ships or not). The config reads
the images from the download's own `JPEGImages/` (they are copied when --out differs).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np

import common as C  # noqa: E402

SOURCE = ('HRSID, High-Resolution SAR Images Dataset for ship detection and instance '
          'segmentation (Wei et al. 2020), https://github.com/chaozhong2010/HRSID')
LAYOUT = '''<src> = HRSID_JPG:
  <src>/JPEGImages/<name>.jpg                 (800x800 SAR images)
  <src>/annotations/test2017.json             (COCO: images, annotations with polygons)'''


def rasterise(anns, height: int, width: int) -> tuple[np.ndarray, int]:
    """0/1 mask of COCO polygon annotations; (mask, number of non-polygon (RLE) anns)."""
    mask = np.zeros((height, width), np.uint8)
    skipped = 0
    for ann in anns:
        seg = ann.get('segmentation')
        if isinstance(seg, list) and seg:
            polys = [np.round(np.asarray(p, float).reshape(-1, 2)).astype(np.int32)
                     for p in seg if len(p) >= 6]
            if polys:
                cv2.fillPoly(mask, polys, 1)
        else:
            skipped += 1
    return mask, skipped


def convert(src, out, split='test', ann_file=None) -> dict:
    src = C.require_dir(src, LAYOUT)
    img_in = C.require_dir(src / 'JPEGImages', LAYOUT)
    ann_path = src / (ann_file or f'annotations/{split}2017.json')
    if not ann_path.is_file():
        raise C.ConverterError(f'annotation file not found: {ann_path}\nexpected:\n{LAYOUT}')
    out = Path(out)
    lbl_out, img_out = out / 'label' / split, out / 'JPEGImages'
    C.check_output(lbl_out, img_in, ann_path.parent)
    in_place = img_out.resolve() == img_in.resolve()
    if not in_place:
        C.check_output(img_out, img_in, ann_path.parent)
    coco = json.loads(ann_path.read_text())
    by_image = {}
    for ann in coco.get('annotations', []):
        by_image.setdefault(ann['image_id'], []).append(ann)
    counts = dict(images=0, ships=0, rle_skipped=0, missing_images=0)
    names = []
    for im in C.progress(coco.get('images', []), 'HRSID'):
        ip = img_in / im['file_name']
        if not ip.is_file():
            counts['missing_images'] += 1
            print(f'warning: image {ip} not found; skipped', file=sys.stderr)
            continue
        anns = by_image.get(im['id'], [])
        mask, skipped = rasterise(anns, int(im['height']), int(im['width']))
        counts['rle_skipped'] += skipped
        counts['ships'] += len(anns)
        name = Path(im['file_name']).stem
        C.save_label(mask, lbl_out / f'{name}.png')
        if not in_place:
            C.convert_image(ip, img_out / f'{name}.jpg')
        names.append(name)
        counts['images'] += 1
    C.write_split(names, out / 'label' / f'{split}.txt')
    print(f'HRSID {split}: {counts["images"]} label images ({counts["ships"]} ships) → '
          f'{lbl_out}; {counts["rle_skipped"]} RLE annotations skipped')
    return counts


def main(argv=None):
    p = C.parser(__doc__, SOURCE, LAYOUT)
    p.add_argument('--src', required=True, help='the HRSID_JPG folder of the download')
    p.add_argument('--out', required=True, help='output folder, e.g. data/HRSID/HRSID_JPG')
    p.add_argument('--split', default='test')
    p.add_argument('--ann-file', help='COCO json relative to --src '
                                      '(default annotations/<split>2017.json)')
    a = p.parse_args(argv)
    convert(a.src, a.out, a.split, a.ann_file)


if __name__ == '__main__':
    C.run_main(main)
