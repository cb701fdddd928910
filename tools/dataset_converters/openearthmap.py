"""OpenEarthMap → the `cfg_openearthmap` layout (the official validation split).

    python tools/dataset_converters/openearthmap.py --src /downloads/OpenEarthMap --out data/OpenEarthMap_val

Copies the images named in the official `val.txt` from `<region>/images/` to `<out>/images/`
and their labels from `<region>/labels/` to `<out>/labels/` (same `.tif` names). The official
labels are already class indices 0…8 (background, bareland, grass, pavement, road, tree,
water, cropland, building); a value above 8 is an error past --max-unknown of a file's
pixels (below it: 255, listed in the closing summary).
"""
from __future__ import annotations

import shutil
from pathlib import Path


import common as C  # noqa: E402

SOURCE = 'OpenEarthMap (Xia et al. 2023), https://open-earth-map.org/ (Zenodo release)'
LAYOUT = '''<src> = the unpacked OpenEarthMap folder:
  <src>/val.txt                      (one image file name per line, e.g. aachen_1.tif)
  <src>/<region>/images/<name>.tif
  <src>/<region>/labels/<name>.tif   (class indices 0..8)'''
CLASSES = ('background', 'bareland', 'grass', 'pavement', 'road', 'tree', 'water',
           'cropland', 'building')


def convert(src, out, split_file='val.txt', max_unknown=C.MAX_UNKNOWN) -> dict:
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
    log = C.LabelSummary('OpenEarthMap', CLASSES, max_unknown)
    for name in sorted(wanted - set(found)):
        log.skip(name, f'listed in {split_file}, not found under <region>/images/')
    if not found:
        raise C.ConverterError(f'none of the {len(wanted)} images of {split} found under '
                               f'{src}/<region>/images\nexpected:\n{LAYOUT}')
    img_out.mkdir(parents=True, exist_ok=True)
    lbl_out.mkdir(parents=True, exist_ok=True)
    for name in C.progress(sorted(found), 'OpenEarthMap'):
        ip = found[name]
        lp = ip.parent.parent / 'labels' / ip.name
        if not lp.is_file():
            log.skip(ip, f'no label {lp}')
            continue
        label, unknown = C.values_to_index(C.read_gray(lp), len(CLASSES))
        log.check(lp, unknown, label.size)
        if unknown:
            log.save(label, lbl_out / ip.name, lp)
        else:                                  # already the config's coding: keep the file
            shutil.copyfile(lp, lbl_out / ip.name)
            log.wrote(lbl_out / ip.name, label)
        shutil.copyfile(ip, img_out / ip.name)
    counts = log.finish()
    print(f'OpenEarthMap: {counts["files"]} pairs → {img_out} / {lbl_out}')
    return counts


def main(argv=None):
    p = C.parser(__doc__, SOURCE, LAYOUT)
    p.add_argument('--src', required=True, help='the unpacked OpenEarthMap folder')
    p.add_argument('--out', required=True, help='output folder, e.g. data/OpenEarthMap_val')
    p.add_argument('--split-file', default='val.txt', help='split list inside --src')
    C.add_max_unknown(p)
    a = p.parse_args(argv)
    convert(a.src, a.out, a.split_file, a.max_unknown)


if __name__ == '__main__':
    C.run_main(main)
