"""xBD (xView2) pre-disaster building masks → the `cfg_xBD` layout.

    python tools/dataset_converters/xbd.py --src /downloads/xBD/test --out data/xBD/test

Writes `<out>/images_pre/<name>.png` (the pre-disaster images) and
`<out>/targets_cvt_pre/<name>.png` (0 background, 1 building), `<name>` being the official
`<disaster>_<id>_pre_disaster`. Labels come from the official `targets/*_target.png` rasters
(any damage/building value ≥ 1 → 1) where present, else they are rasterised from the
`labels/*.json` polygons (WKT in pixel coordinates, `features.xy`) with cv2.fillPoly.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np

import common as C  # noqa: E402

SOURCE = ('xBD / xView2 Challenge dataset (Gupta et al. 2019), https://xview2.org/dataset '
          '("test" split)')
LAYOUT = '''<src> = the official xBD split folder (e.g. test/):
  <src>/images/<disaster>_<id>_pre_disaster.png   (and *_post_disaster.png, not used)
  <src>/labels/<disaster>_<id>_pre_disaster.json  (building polygons, WKT pixel coords)
  <src>/targets/<disaster>_<id>_pre_disaster_target.png   (optional rasters, 0 = none)'''
PRE = '_pre_disaster'


def _groups(text: str) -> list[str]:
    """The contents of the top-level parenthesised groups of `text`."""
    out, depth, begin = [], 0, 0
    for i, ch in enumerate(text):
        if ch == '(':
            if depth == 0:
                begin = i + 1
            depth += 1
        elif ch == ')':
            depth -= 1
            if depth == 0:
                out.append(text[begin:i])
    return out


def wkt_rings(wkt: str) -> list[list[np.ndarray]]:
    """Polygons of a WKT POLYGON/MULTIPOLYGON: a list of [outer ring, hole rings...]."""
    kind = wkt.strip().split('(', 1)[0].strip().upper()
    if kind not in ('POLYGON', 'MULTIPOLYGON'):
        return []
    body = _groups(wkt)
    if not body:
        return []
    polygons = [body[0]] if kind == 'POLYGON' else _groups(body[0])
    result = []
    for poly in polygons:
        rings = []
        for ring in _groups(poly):
            pts = [pt.split()[:2] for pt in ring.split(',') if pt.strip()]
            if len(pts) >= 3:
                rings.append(np.round(np.array(pts, dtype=float)).astype(np.int32))
        if rings:
            result.append(rings)
    return result


def rasterise(label_json: dict, shape) -> np.ndarray:
    """0/1 building mask of an xBD label file (holes of a polygon stay 0)."""
    mask = np.zeros(shape, np.uint8)
    for feat in label_json.get('features', {}).get('xy', []):
        for rings in wkt_rings(feat.get('wkt', '')):
            cv2.fillPoly(mask, [rings[0]], 1)
            if len(rings) > 1:
                cv2.fillPoly(mask, rings[1:], 0)
    return mask


def convert(src, out) -> dict:
    src = C.require_dir(src, LAYOUT)
    img_in = C.require_dir(src / 'images', LAYOUT)
    out = Path(out)
    img_out, lbl_out = out / 'images_pre', out / 'targets_cvt_pre'
    tgt_in, json_in = src / 'targets', src / 'labels'
    inputs = [img_in] + [d for d in (tgt_in, json_in) if d.is_dir()]
    C.check_output(img_out, *inputs)
    C.check_output(lbl_out, *inputs)
    images = [p for p in C.list_images(img_in) if p.stem.endswith(PRE)]
    if not images:
        raise C.ConverterError(f'no *{PRE}.png images in {img_in}\nexpected:\n{LAYOUT}')

    counts = dict(from_targets=0, from_json=0, missing=0)
    for ip in C.progress(images, 'xBD pre-disaster'):
        name = ip.stem
        tgt = tgt_in / f'{name}_target.png'
        js = json_in / f'{name}.json'
        if tgt.is_file():
            mask = C.binarize(C.read_gray(tgt), 0)
            counts['from_targets'] += 1
        elif js.is_file():
            data = json.loads(js.read_text())
            meta = data.get('metadata', {})
            if 'height' in meta and 'width' in meta:
                shape = (int(meta['height']), int(meta['width']))
            else:
                shape = C.read_rgb(ip).shape[:2]
            mask = rasterise(data, shape)
            counts['from_json'] += 1
        else:
            counts['missing'] += 1
            print(f'warning: no target or label json for {ip.name}; skipped', file=sys.stderr)
            continue
        C.save_label(mask, lbl_out / f'{name}.png', tgt)
        C.convert_image(ip, img_out / f'{name}.png')
    print(f'xBD: {counts["from_targets"] + counts["from_json"]} pre-disaster pairs → {out} '
          f'({counts["from_targets"]} from targets/, {counts["from_json"]} rasterised from '
          f'labels/*.json, {counts["missing"]} without label)')
    return counts


def main(argv=None):
    p = C.parser(__doc__, SOURCE, LAYOUT)
    p.add_argument('--src', required=True, help='official xBD split folder (e.g. xBD/test)')
    p.add_argument('--out', required=True, help='output folder, e.g. data/xBD/test')
    a = p.parse_args(argv)
    convert(a.src, a.out)


if __name__ == '__main__':
    C.run_main(main)
