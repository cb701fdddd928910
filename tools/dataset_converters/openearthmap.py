"""OpenEarthMap → the `cfg_openearthmap` layout (the official validation split).

    python tools/dataset_converters/openearthmap.py --src /downloads/OpenEarthMap --out data/OpenEarthMap_val

Copies the images named in the official `val.txt` from `<region>/images/` to `<out>/images/`
and their labels from `<region>/labels/` to `<out>/labels/` (same `.tif` names). The official
labels are already class indices 0…8 (background, bareland, grass, pavement, road, tree,
water, cropland, building); values above 8 are set to 255 (ignored) and counted.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

SOURCE = 'OpenEarthMap (Xia et al. 2023), https://open-earth-map.org/ (Zenodo release)'
LAYOUT = '''<src> = the unpacked OpenEarthMap folder:
  <src>/val.txt                      (one image file name per line, e.g. aachen_1.tif)
  <src>/<region>/images/<name>.tif
  <src>/<region>/labels/<name>.tif   (class indices 0..8)'''
NUM_CLASSES = 9


def convert(src, out, split_file='val.txt') -> dict:
    src = C.require_dir(src, LAYOUT)
    split = src / split_file
    if not split.is_file():
        raise C.ConverterError(f'split list not found: {split}\nexpected:\n{LAYOUT}')
    wanted = {Path(line.strip()).stem for line in split.read_text().splitlines()
              if line.strip()}
    out = Path(out)
    img_out, lbl_out = out / 'images', out / 'labels'
    C.check_output(img_out, src)
    C.check_output(lbl_out, src)
    found = {p.stem: p for p in src.rglob('*.tif') if p.parent.name == 'images'
             and p.stem in wanted}
    counts = dict(images=0, missing=len(wanted - set(found)), out_of_range_pixels=0)
    if not found:
        raise C.ConverterError(f'none of the {len(wanted)} images of {split} found under '
                               f'{src}/<region>/images\nexpected:\n{LAYOUT}')
    img_out.mkdir(parents=True, exist_ok=True)
    lbl_out.mkdir(parents=True, exist_ok=True)
    for name in C.progress(sorted(found), 'OpenEarthMap'):
        ip = found[name]
        lp = ip.parent.parent / 'labels' / ip.name
        if not lp.is_file():
            counts['missing'] += 1
            print(f'warning: no label {lp}; skipped', file=sys.stderr)
            continue
        label = C.read_gray(lp)
        bad = label >= NUM_CLASSES
        if bad.any():
            fixed = label.astype(np.uint8).copy()
            fixed[bad] = C.IGNORE
            C.save_label(fixed, lbl_out / ip.name, lp)
            counts['out_of_range_pixels'] += int(bad.sum())
        else:
            shutil.copyfile(lp, lbl_out / ip.name)
        shutil.copyfile(ip, img_out / ip.name)
        counts['images'] += 1
    print(f'OpenEarthMap: {counts["images"]} pairs → {img_out} / {lbl_out}; '
          f'{counts["missing"]} of val.txt missing')
    return counts


def main(argv=None):
    p = C.parser(__doc__, SOURCE, LAYOUT)
    p.add_argument('--src', required=True, help='the unpacked OpenEarthMap folder')
    p.add_argument('--out', required=True, help='output folder, e.g. data/OpenEarthMap_val')
    p.add_argument('--split-file', default='val.txt', help='split list inside --src')
    a = p.parse_args(argv)
    convert(a.src, a.out, a.split_file)


if __name__ == '__main__':
    C.run_main(main)
